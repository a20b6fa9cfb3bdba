/// Growing and shrinking the pool, once per event after requests moved: the
/// plan (SchedulerPlan.swift) says how many instances the load wants; this
/// starts the missing ones (at most `maxStartsInFlight` at a time, none while
/// a crash loop backs off) or drains the ones idle for `idleTimeout`, least
/// recently used first (never while panicking).
extension Scheduler {
    mutating func scale(_ step: inout Step) {
        let readyCount = instances.values.count(where: \.isServing)
        autoscaler.updatePanic(now: step.now, readyInstances: readyCount)
        // Without waiting requests the demand and the saturation flag only name
        // the reason of a start: computed below if one is made (same values:
        // nothing changes in between).
        var plan = plan(at: step.now, turnedAway: step.turnedAway, full: false)

        if plan.live < plan.target {
            if let until = startsBlockedUntil, step.now < until { return } // crash loop: back off
            let current = instances.values.filter { $0.generation == generation }
            let startingCount = current.count(where: \.isStarting)
            // Old generations retire once this one is up: they do not count
            // against maxInstances (the pool briefly overlaps during a redeploy).
            let count = min(
                plan.target - plan.live,
                config.maxStartsInFlight - startingCount,
                maxInstances - current.count)
            guard count > 0 else { return }
            if step.cause == nil { plan = self.plan(at: step.now, turnedAway: step.turnedAway) }
            var first: ScaleReason?
            for k in 0..<count {
                // Each start names the rule that asks for it at that pool size.
                let reason = step.cause ?? plan.growthReason(live: plan.live + k)
                first = first ?? reason
                let id = takeInstanceID()
                instances[id] = InstanceRecord(
                    id: id, reason: reason, requestedAt: step.now, saturationWindow: config.saturationWindow,
                    generation: generation)
                step.actions.append(.start(id, reason: reason))
            }
            lastScale = ScaleEvent(direction: .up, reason: first ?? .load, count: count, at: step.now)
        } else if plan.live > plan.keep, !autoscaler.isPanicking {
            // Least recently used first; only instances idle for idleTimeout.
            let idle = instances.values
                .filter {
                    $0.generation == generation && $0.isServing && $0.inFlight.isEmpty
                        && step.now - $0.lastUsed >= config.idleTimeout
                }
                .sorted { ($0.lastUsed, $0.id) < ($1.lastUsed, $1.id) }
            let count = min(plan.live - plan.keep, idle.count)
            guard count > 0 else { return }
            for instance in idle.prefix(count) {
                // Idle means nothing in flight: it may stop right after the drain.
                instances[instance.id] = nil
                step.actions.append(.drain(instance.id, reason: .idle))
                step.actions.append(.stop(instance.id))
            }
            lastScale = ScaleEvent(direction: .down, reason: .idle, count: count, at: step.now)
        }
    }
}
