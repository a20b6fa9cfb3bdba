/// Zero-downtime redeploy, as generations.
///
/// `redeploy` makes a new generation current. It asks for as many new
/// instances as the old generation had live (the autoscaler may ask for more
/// as usual); while they start, the old instances keep serving, so nothing
/// waits. Placement prefers the newest generation (Placement.swift). Once the
/// current generation has at least one serving instance and none still
/// starting, every older instance drains: it finishes its in-flight requests
/// and is stopped like any drained instance. If the new instances never come
/// up (they die while starting), the old ones simply keep serving.
extension Scheduler {
    mutating func beginRedeploy(_ step: inout Step) {
        let oldLive = instances.values.count { $0.isServing || $0.isStarting }
        generation += 1
        step.cause = .redeploy
        let count = min(oldLive, maxInstances, max(1, config.maxStartsInFlight))
        for _ in 0..<count {
            let id = takeInstanceID()
            instances[id] = InstanceRecord(
                id: id, reason: .redeploy, requestedAt: step.now, saturationWindow: config.saturationWindow,
                generation: generation)
            step.actions.append(.start(id, reason: .redeploy))
        }
        if count > 0 {
            lastScale = ScaleEvent(direction: .up, reason: .redeploy, count: count, at: step.now)
        }
    }

    /// Drains every older instance once the current generation is up.
    mutating func retireOldGenerations(_ step: inout Step) {
        // Runs on every event; with no older instance left to drain (the
        // common case) nothing below can happen, so skip its array copies.
        guard instances.values.contains(where: { $0.generation < generation && !$0.isDraining }) else { return }
        let current = instances.values.filter { $0.generation == generation }
        guard current.contains(where: \.isServing), !current.contains(where: \.isStarting) else { return }
        let old = instances.values
            .filter { $0.generation < generation && !$0.isDraining }
            .map(\.id).sorted()
        guard !old.isEmpty else { return }
        for id in old {
            instances[id]?.state = .draining(.redeploy)
            step.actions.append(.drain(id, reason: .redeploy))
        }
        lastScale = ScaleEvent(direction: .down, reason: .redeploy, count: old.count, at: step.now)
    }

    /// Instances of generations older than the current one, not yet stopped.
    public var retiringInstances: Int {
        instances.values.count { $0.generation < generation }
    }
}
