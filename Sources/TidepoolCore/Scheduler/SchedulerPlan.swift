/// The scaling arithmetic `Scheduler.scale` decides from (and the status
/// page shows).
extension Scheduler {
    /// The scaling arithmetic at one moment (see `Autoscaler`).
    struct Plan {
        var demand: Autoscaler.Demand
        /// Instances the waiting requests need right now (0 when none wait).
        var immediate: Int
        var window: Int
        /// Pool size to grow to.
        var target: Int
        /// Pool size the stable window lets us shrink to.
        var keep: Int
        /// Serving plus starting instances.
        var live: Int
        var minInstances: Int
        var panicking: Bool
        /// Some instance has free slots it may not use because it is saturated.
        var saturatedWithRoom: Bool

        /// The rule that asks for one more instance when `live` exist.
        func growthReason(live: Int) -> ScaleReason {
            if immediate > live { return saturatedWithRoom ? .saturation : .queue }
            if panicking, window > live { return .panic }
            if live < minInstances { return .minimum }
            if window > live { return .load }
            return .spare
        }
    }

    /// - Parameter full: false skips what only `growthReason` and the status
    ///   page read — `demand` (unless requests wait: `immediate` needs it) and
    ///   `saturatedWithRoom` — leaving them zero/false. `target`, `keep` and
    ///   `live` are the same either way.
    func plan(at now: Instant, turnedAway: Int = 0, full: Bool = true) -> Plan {
        let waiting = queue.count + turnedAway
        let demand = full || waiting > 0
            ? Autoscaler.demand(of: instances.values, waiting: waiting, config: config, now: now)
            : Autoscaler.Demand(instances: 0, concurrency: 0)
        let immediate = waiting > 0 ? Autoscaler.instances(for: demand.instances) : 0
        // One pass over the stable window for both (it was summed twice).
        let stableAverage = autoscaler.stableAverageDemand(at: now)
        let window = autoscaler.windowDesired(at: now, stableAverage: stableAverage)
        let spare = config.spareInstances
        let target = min(maxInstances, max(config.minInstances, max(immediate, window) + spare))
        let keepDesired = autoscaler.keepDesired(stableAverage: stableAverage)
        let keep = min(maxInstances, max(config.minInstances, max(keepDesired, immediate) + spare))
        let live = instances.values.count { $0.generation == generation && ($0.isServing || $0.isStarting) }
        let slots = config.slotsPerInstance
        let saturatedWithRoom = full && instances.values.contains {
            $0.isServing && $0.inFlight.count < slots
                && ($0.isHeldBySaturation(at: now, threshold: config.saturationThreshold)
                    || $0.inFlight.count >= $0.slotLimit(slots: slots))
        }
        return Plan(
            demand: demand, immediate: immediate, window: window, target: target, keep: keep, live: live,
            minInstances: config.minInstances, panicking: autoscaler.isPanicking,
            saturatedWithRoom: saturatedWithRoom)
    }
}
