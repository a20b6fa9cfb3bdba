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
/// the one with the FEWEST in flight, ties to the most recently used, then the
/// lowest id. Ties go to the warm instance here too: at low load (one request
/// at a time) taking turns left each instance idle between its requests, its
/// caches cold, and cost 40 µs at the median (wrk -c1 p50 373 → 333 µs; the
/// app's part in the instance 198 → 144 µs). No instance there can be
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
        var chooser = Chooser(slotsPerInstance: slotsPerInstance, saturationThreshold: saturationThreshold, now: now, spread: spread)
        for candidate in instances { chooser.consider(candidate) }
        return chooser.best?.id
    }

    /// `choose`, one candidate at a time, so the scheduler can walk its table
    /// in place (`Scheduler.forEachInstanceInPlace`): iterating a dictionary's
    /// values copied every record — a retain and release per Set and window
    /// it holds — on every request. Keeps the best's ordering key, not a copy.
    struct Chooser {
        let slotsPerInstance: Int
        let saturationThreshold: Double
        let now: Instant
        let spread: Bool
        private(set) var best: Key?

        /// What `isBetter` compares.
        struct Key {
            var generation: Int
            var inFlight: Int
            var lastUsed: Instant
            var id: InstanceID
        }

        init(slotsPerInstance: Int, saturationThreshold: Double, now: Instant, spread: Bool) {
            self.slotsPerInstance = slotsPerInstance
            self.saturationThreshold = saturationThreshold
            self.now = now
            self.spread = spread
        }

        @inline(__always)
        mutating func consider(_ candidate: borrowing InstanceRecord) {
            guard isPlaceable(candidate, slotsPerInstance, saturationThreshold, now) else { return }
            let key = Key(
                generation: candidate.generation, inFlight: candidate.inFlight.count, lastUsed: candidate.lastUsed,
                id: candidate.id)
            if let current = best, !isBetter(key, than: current, spread: spread) { return }
            best = key
        }
    }

    /// Whether the instance may take one more request now.
    public static func isPlaceable(
        _ instance: borrowing InstanceRecord, _ slotsPerInstance: Int, _ saturationThreshold: Double, _ now: Instant
    ) -> Bool {
        instance.isServing
            && instance.inFlight.count < instance.slotLimit(slots: slotsPerInstance)
            && !instance.isHeldBySaturation(at: now, threshold: saturationThreshold)
    }

    private static func isBetter(_ a: Chooser.Key, than b: Chooser.Key, spread: Bool) -> Bool {
        // During a redeploy the newest version takes requests first.
        if a.generation != b.generation { return a.generation > b.generation }
        if a.inFlight != b.inFlight { return (a.inFlight > b.inFlight) != spread }
        if a.lastUsed != b.lastUsed { return a.lastUsed > b.lastUsed }
        return a.id < b.id
    }
}
