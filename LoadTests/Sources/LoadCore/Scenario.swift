/// A load-test scenario: named phases run one after another against one target.
///
/// Pure data, read from `LoadTests/scenarios/*.toml` by `ScenarioFile`.
public struct Scenario: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Seed of the arrival and route-choice random numbers: the same seed sends the same schedule.
    public var seed: UInt64
    /// A request not answered after this many seconds counts as error `timeout`.
    public var timeoutSeconds: Double
    /// Most connections open at once; sends beyond them wait (and count as late).
    public var maxConnections: Int
    public var phases: [Phase]

    public init(
        name: String, description: String = "", seed: UInt64 = 1, timeoutSeconds: Double = 30,
        maxConnections: Int = 4096, phases: [Phase]
    ) {
        self.name = name
        self.description = description
        self.seed = seed
        self.timeoutSeconds = timeoutSeconds
        self.maxConnections = maxConnections
        self.phases = phases
    }

    /// Seconds from the start of the run to the end of the last phase.
    public var durationSeconds: Double { phases.reduce(0) { $0 + $1.durationSeconds } }

    /// The phase running `t` seconds into the run, with its start offset; nil past the end.
    public func phase(at t: Double) -> (index: Int, start: Double)? {
        var start = 0.0
        for (index, phase) in phases.enumerated() {
            if t < start + phase.durationSeconds { return (index, start) }
            start += phase.durationSeconds
        }
        return nil
    }
}

/// One stretch of a scenario with a single load shape.
public struct Phase: Sendable, Equatable {
    public enum Load: Sendable, Equatable {
        /// Open loop: requests per second, linearly from `from` to `to` over the phase.
        case rate(from: Double, to: Double, arrival: Arrival)
        /// Closed loop: this many virtual users, each sending its next request when the
        /// previous one returned (after `thinkSeconds`).
        case users(count: Int, thinkSeconds: Double)
    }

    public var name: String
    public var durationSeconds: Double
    public var load: Load
    public var routes: RouteMix

    public init(name: String, durationSeconds: Double, load: Load, routes: RouteMix) {
        self.name = name
        self.durationSeconds = durationSeconds
        self.load = load
        self.routes = routes
    }

    /// The open-loop rate `offset` seconds into this phase (0 for closed-loop phases).
    public func rate(atOffset offset: Double) -> Double {
        guard case .rate(let from, let to, _) = load else { return 0 }
        guard durationSeconds > 0 else { return from }
        let fraction = min(max(offset / durationSeconds, 0), 1)
        return from + (to - from) * fraction
    }
}

/// How open-loop sends are spaced.
public enum Arrival: String, Sendable, Equatable, CaseIterable {
    /// Evenly spaced: one every 1/rate seconds.
    case constant
    /// Exponentially distributed gaps with mean 1/rate (independent arrivals, like real users).
    case poisson
}

/// Weighted choice of request paths.
public struct RouteMix: Sendable, Equatable {
    public struct Route: Sendable, Equatable {
        public var path: String
        public var weight: Double
        public init(path: String, weight: Double = 1) {
            self.path = path
            self.weight = weight
        }
    }

    public var routes: [Route]
    public init(_ routes: [Route]) { self.routes = routes }

    /// The route for a uniform draw `u` in [0, 1).
    public func pick(_ u: Double) -> String {
        let total = routes.reduce(0) { $0 + $1.weight }
        var target = u * total
        for route in routes {
            if target < route.weight { return route.path }
            target -= route.weight
        }
        return routes.last?.path ?? "/"
    }
}
