import TOMLKit

/// Why a scenario file could not be used, naming the key to fix.
public enum ScenarioError: Error, CustomStringConvertible, Equatable {
    case syntax(file: String, reason: String)
    case missing(file: String, key: String)
    case wrongType(file: String, key: String, expected: String)
    case invalid(file: String, key: String, reason: String)
    case unknownKey(file: String, key: String)

    public var description: String {
        switch self {
        case .syntax(let file, let reason): "scenario \(file) is not valid TOML: \(reason)"
        case .missing(let file, let key): "scenario \(file): missing key `\(key)`"
        case .wrongType(let file, let key, let expected): "scenario \(file): `\(key)` must be \(expected)"
        case .invalid(let file, let key, let reason): "scenario \(file): `\(key)` \(reason)"
        case .unknownKey(let file, let key):
            "scenario \(file): unknown key `\(key)` (see LoadTests/scenarios/steady.toml for the keys)"
        }
    }
}

/// Parses scenario TOML:
///
/// ```toml
/// name = "spike"            # optional, defaults to the file name
/// description = "…"
/// seed = 1                  # arrivals and route choice are reproducible
/// timeout = 30              # seconds before a request counts as `timeout`
/// connections = 4096        # most connections open at once
/// routes = [{ path = "/api/hello", weight = 1 }]   # default mix for every phase
///
/// [[phases]]
/// name = "burst"
/// duration = 10             # seconds
/// rate = 200                # open loop, requests per second…
/// rate_end = 400            # …optionally ramping linearly to this
/// arrival = "poisson"       # or "constant" (default)
/// # users = 16              # closed loop instead of rate: N virtual users
/// # think_ms = 0
/// # routes = [...]          # this phase's own mix
/// ```
public enum ScenarioFile {
    public static func parse(_ text: String, file: String) throws -> Scenario {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw ScenarioError.syntax(file: file, reason: "\(error)")
        }
        let reader = Reader(file: file)
        try reader.onlyKeys(table, ["name", "description", "seed", "timeout", "connections", "routes", "phases"], prefix: "")
        let defaultName = file.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? file
        let defaultRoutes = try table["routes"].map { try reader.routes($0, key: "routes") }
        guard let phaseArray = table["phases"] else { throw ScenarioError.missing(file: file, key: "phases") }
        guard let phaseValues = phaseArray.array, !phaseValues.isEmpty else {
            throw ScenarioError.wrongType(file: file, key: "phases", expected: "a non-empty array of [[phases]] tables")
        }
        var phases: [Phase] = []
        for (index, value) in phaseValues.enumerated() {
            guard let phase = value.table else {
                throw ScenarioError.wrongType(file: file, key: "phases[\(index)]", expected: "a table")
            }
            phases.append(try reader.phase(phase, index: index, defaultRoutes: defaultRoutes))
        }
        let seed = try table["seed"].map { try reader.int($0, key: "seed", atLeast: 0) } ?? 1
        return Scenario(
            name: try table["name"].map { try reader.string($0, key: "name") } ?? defaultName,
            description: try table["description"].map { try reader.string($0, key: "description") } ?? "",
            seed: UInt64(seed),
            timeoutSeconds: try table["timeout"].map { try reader.positive($0, key: "timeout") } ?? 30,
            maxConnections: try table["connections"].map { try reader.int($0, key: "connections", atLeast: 1) } ?? 4096,
            phases: phases
        )
    }

    private struct Reader {
        let file: String

        func onlyKeys(_ table: TOMLTable, _ allowed: Set<String>, prefix: String) throws {
            for key in table.keys where !allowed.contains(key) {
                throw ScenarioError.unknownKey(file: file, key: prefix + key)
            }
        }

        func phase(_ table: TOMLTable, index: Int, defaultRoutes: RouteMix?) throws -> Phase {
            let prefix = "phases[\(index)]."
            try onlyKeys(
                table, ["name", "duration", "rate", "rate_end", "arrival", "users", "think_ms", "routes"], prefix: prefix)
            guard let durationValue = table["duration"] else { throw ScenarioError.missing(file: file, key: prefix + "duration") }
            let duration = try positive(durationValue, key: prefix + "duration")
            let load: Phase.Load
            switch (table["rate"], table["users"]) {
            case (let rate?, nil):
                let from = try nonNegative(rate, key: prefix + "rate")
                let to = try table["rate_end"].map { try nonNegative($0, key: prefix + "rate_end") } ?? from
                let arrivalName = try table["arrival"].map { try string($0, key: prefix + "arrival") } ?? "constant"
                guard let arrival = Arrival(rawValue: arrivalName) else {
                    throw ScenarioError.invalid(file: file, key: prefix + "arrival", reason: "is \"\(arrivalName)\"; use \"constant\" or \"poisson\"")
                }
                load = .rate(from: from, to: to, arrival: arrival)
            case (nil, let users?):
                let count = try int(users, key: prefix + "users", atLeast: 1)
                let think = try table["think_ms"].map { try nonNegative($0, key: prefix + "think_ms") } ?? 0
                load = .users(count: count, thinkSeconds: think / 1000)
            case (nil, nil):
                throw ScenarioError.missing(file: file, key: prefix + "rate` or `" + prefix + "users")
            case (_?, _?):
                throw ScenarioError.invalid(file: file, key: prefix + "rate", reason: "and `users` exclude each other: a phase is open loop or closed loop")
            }
            guard let routes = try table["routes"].map({ try self.routes($0, key: prefix + "routes") }) ?? defaultRoutes else {
                throw ScenarioError.missing(file: file, key: prefix + "routes` (or a top-level `routes")
            }
            let name = try table["name"].map { try string($0, key: prefix + "name") } ?? "phase \(index + 1)"
            return Phase(name: name, durationSeconds: duration, load: load, routes: routes)
        }

        func routes(_ value: TOMLValueConvertible, key: String) throws -> RouteMix {
            guard let array = value.array, !array.isEmpty else {
                throw ScenarioError.wrongType(file: file, key: key, expected: "a non-empty array of { path, weight } tables")
            }
            var routes: [RouteMix.Route] = []
            for (index, item) in array.enumerated() {
                let itemKey = "\(key)[\(index)]"
                guard let table = item.table else {
                    throw ScenarioError.wrongType(file: file, key: itemKey, expected: "a { path, weight } table")
                }
                try onlyKeys(table, ["path", "weight"], prefix: itemKey + ".")
                guard let pathValue = table["path"] else { throw ScenarioError.missing(file: file, key: itemKey + ".path") }
                let path = try string(pathValue, key: itemKey + ".path")
                guard path.hasPrefix("/") else {
                    throw ScenarioError.invalid(file: file, key: itemKey + ".path", reason: "must start with / (it is appended to --target)")
                }
                let weight = try table["weight"].map { try positive($0, key: itemKey + ".weight") } ?? 1
                routes.append(.init(path: path, weight: weight))
            }
            return RouteMix(routes)
        }

        func string(_ value: TOMLValueConvertible, key: String) throws -> String {
            guard let s = value.string else { throw ScenarioError.wrongType(file: file, key: key, expected: "a string") }
            return s
        }

        func int(_ value: TOMLValueConvertible, key: String, atLeast lower: Int) throws -> Int {
            guard let i = value.int else { throw ScenarioError.wrongType(file: file, key: key, expected: "an integer") }
            guard i >= lower else { throw ScenarioError.invalid(file: file, key: key, reason: "is \(i); must be at least \(lower)") }
            return i
        }

        func nonNegative(_ value: TOMLValueConvertible, key: String) throws -> Double {
            let d = try number(value, key: key)
            guard d >= 0, d.isFinite else { throw ScenarioError.invalid(file: file, key: key, reason: "is \(d); must be ≥ 0") }
            return d
        }

        func positive(_ value: TOMLValueConvertible, key: String) throws -> Double {
            let d = try number(value, key: key)
            guard d > 0, d.isFinite else { throw ScenarioError.invalid(file: file, key: key, reason: "is \(d); must be > 0") }
            return d
        }

        private func number(_ value: TOMLValueConvertible, key: String) throws -> Double {
            if let d = value.double { return d }
            if let i = value.int { return Double(i) }
            throw ScenarioError.wrongType(file: file, key: key, expected: "a number")
        }
    }
}
