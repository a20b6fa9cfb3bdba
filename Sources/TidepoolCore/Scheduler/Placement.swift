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
///
/// Spread, in a pinned pool (`minInstances == maxInstances`, `--instances N`):
/// the one with the FEWEST in flight, ties to the least recently used (so equal
/// loads take turns), then the lowest id. No instance there can be
/// reclaimed or added, so packing buys nothing, and it costs: requests packed
/// onto one interpreter wait for its GIL while a kept instance idles. The
/// CPU-saturation signal that would move them fires only when the instance
/// gets most of a core; on a machine where other work takes the CPU it never
/// does (measured: a pegged instance at 0.62 of a core, 0.75 more waiting on
/// the run queue), and one instance of a pinned pool of two served everything.
public enum Placement {
    /// The instance to dispatch to, or nil if the request must wait.
    public static func choose(
        among instances: some Sequence<InstanceRecord>,
        slotsPerInstance: Int,
        saturationThreshold: Double,
        now: Instant,
        spread: Bool = false
    ) -> InstanceID? {
        var best: InstanceRecord?
        for candidate in instances where isPlaceable(candidate, slotsPerInstance, saturationThreshold, now) {
            if let current = best, !isBetter(candidate, than: current, spread: spread) { continue }
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

    private static func isBetter(_ a: InstanceRecord, than b: InstanceRecord, spread: Bool) -> Bool {
        // During a redeploy the newest version takes requests first.
        if a.generation != b.generation { return a.generation > b.generation }
        if a.inFlight.count != b.inFlight.count { return (a.inFlight.count > b.inFlight.count) != spread }
        if a.lastUsed != b.lastUsed { return (a.lastUsed > b.lastUsed) != spread }
        return a.id < b.id
    }
}
