import TOMLKit

/// A config value read as the type its key needs, or a `ConfigError` naming
/// the key and what it should have been. Shared by `ConfigFile` (host keys)
/// and `SchedulerSettings` (scheduler keys).
enum TOMLValues {
    static func string(_ value: TOMLValueConvertible, _ key: String) throws -> String {
        guard let s = value.string else { throw ConfigError.wrongType(key: key, expected: "a string") }
        return s
    }

    static func int(_ value: TOMLValueConvertible, _ key: String) throws -> Int {
        guard let i = value.int else { throw ConfigError.wrongType(key: key, expected: "an integer") }
        return i
    }

    static func bool(_ value: TOMLValueConvertible, _ key: String) throws -> Bool {
        guard let b = value.bool else { throw ConfigError.wrongType(key: key, expected: "true or false") }
        return b
    }

    /// An integer or a float.
    static func number(_ value: TOMLValueConvertible, _ key: String) throws -> Double {
        if let d = value.double { return d }
        if let i = value.int { return Double(i) }
        throw ConfigError.wrongType(key: key, expected: "a number")
    }
}
