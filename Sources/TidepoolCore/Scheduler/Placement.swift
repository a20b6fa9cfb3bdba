/// Where the next request goes.
///
/// Pack: among serving instances with a free slot, the one with the MOST
/// requests in flight, so the others stay idle and can be reclaimed (and the
/// busy one's warm caches keep working). Ties go to the most recently used,
/// then to the lowest id, so the choice is deterministic. A newer generation
/// (redeploy) beats everything: old instances only get what the new cannot take. Starting and
/// draining instances never get requests; a CPU-saturated instance gets none
/// while it is busy (see `InstanceRecord.isHeldBySaturation`), and one that
/// learned a lower limit gets no more than that (see `ConcurrencyLimit.swift`).
public enum Placement {
    /// The instance to dispatch to, or nil if the request must wait.
    public static func choose(
        among instances: some Sequence<InstanceRecord>,
        slotsPerInstance: Int,
        saturationThreshold: Double,
        now: Instant
    ) -> InstanceID? {
        var best: InstanceRecord?
        for candidate in instances where isPlaceable(candidate, slotsPerInstance, saturationThreshold, now) {
            if let current = best, !isBetter(candidate, than: current) { continue }
            best = candidate
        }
        return best?.id
    }

    /// Whether the instance may take one more request now.
    public static func isPlaceable(
        _ instance: InstanceRecord, _ slotsPerInstance: Int, _ saturationThreshold: Double, _ now: Instant
    ) -> Bool {
        instance.isServing
            && instance.inFlight.count < instance.slotLimit(slots: slotsPerInstance)
            && !instance.isHeldBySaturation(at: now, threshold: saturationThreshold)
    }

    private static func isBetter(_ a: InstanceRecord, than b: InstanceRecord) -> Bool {
        // During a redeploy the newest version takes requests first.
        if a.generation != b.generation { return a.generation > b.generation }
        if a.inFlight.count != b.inFlight.count { return a.inFlight.count > b.inFlight.count }
        if a.lastUsed != b.lastUsed { return a.lastUsed > b.lastUsed }
        return a.id < b.id
    }
}
