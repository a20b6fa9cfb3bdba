import Foundation
import TOMLKit
import TidepoolCore

/// Why a configuration could not be used: which key, and what to do about it.
enum ConfigError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case syntax(path: String, reason: String)
    case wrongType(key: String, expected: String)
    case outOfRange(key: String, value: String, allowed: String)
    case unknownKey(path: String, key: String)
    case invalid(key: String, reason: String)

    var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read config file \(path): \(reason)"
        case .syntax(let path, let reason):
            "config file \(path) is not valid TOML: \(reason)"
        case .wrongType(let key, let expected):
            "config key `\(key)` must be \(expected)"
        case .outOfRange(let key, let value, let allowed):
            "config key `\(key)` is \(value); allowed: \(allowed)"
        case .invalid(let key, let reason):
            "config key `\(key)` \(reason)"
        case .unknownKey(let path, let key):
            "config file \(path) has an unknown key `\(key)` (see config/tidepool.toml for the keys)"
        }
    }
}

/// Reads `config/tidepool.toml`-style files into a `Configuration`.
enum ConfigFile {
    /// Returns the keys the file set (so `vercel.json` does not override them).
    @discardableResult
    static func load(path: String, into configuration: inout Configuration) throws -> Set<String> {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError.unreadable(path: path, reason: error.localizedDescription)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw ConfigError.syntax(path: path, reason: "\(error)")
        }
        for key in table.keys {
            let value = table[key]!
            if try SchedulerSettings.apply(key: key, value: value, to: &configuration.scheduler) { continue }
            switch key {
            case "host": configuration.host = try TOMLValues.string(value, key)
            case "port": configuration.port = try TOMLValues.int(value, key)
            case "start":
                let raw = try TOMLValues.string(value, key)
                guard let mode = Configuration.StartMode(rawValue: raw) else {
                    throw ConfigError.outOfRange(key: key, value: raw, allowed: "fork, spawn")
                }
                configuration.start = mode
            case "maxRequestBodyBytes": configuration.maxRequestBodyBytes = try TOMLValues.int(value, key)
            case "adminPort": configuration.adminPort = try TOMLValues.int(value, key)
            case "adminHost": configuration.adminHost = try TOMLValues.string(value, key)
            case "logFormat":
                let raw = try TOMLValues.string(value, key)
                guard let format = Configuration.LogFormat(rawValue: raw) else {
                    throw ConfigError.outOfRange(key: key, value: raw, allowed: "text, json")
                }
                configuration.logFormat = format
            // Hardening limits (issue 7)
            case "maxResponseBodyBytes": configuration.maxResponseBodyBytes = try TOMLValues.int(value, key)
            case "maxHeaderBytes": configuration.maxHeaderBytes = try TOMLValues.int(value, key)
            case "maxURIBytes": configuration.maxURIBytes = try TOMLValues.int(value, key)
            case "clientTimeout": configuration.clientTimeoutSeconds = try TOMLValues.number(value, key)
            case "headerTimeout": configuration.headerTimeoutSeconds = try TOMLValues.number(value, key)
            case "bodyTimeout": configuration.bodyTimeoutSeconds = try TOMLValues.number(value, key)
            case "trustedProxies": configuration.trustedProxies = try cidrs(value, key)
            case "maxConnections": configuration.maxConnections = try TOMLValues.int(value, key)
            case "user": configuration.user = try TOMLValues.string(value, key)
            case "instanceMaxOpenFiles": configuration.instanceMaxOpenFiles = try TOMLValues.int(value, key)
            case "instanceCoreDumps": configuration.instanceCoreDumps = try TOMLValues.bool(value, key)
            default: throw ConfigError.unknownKey(path: path, key: key)
            }
        }
        return Set(table.keys)
    }

    static func validate(_ c: Configuration) throws {
        guard (1...65535).contains(c.port) else {
            throw ConfigError.outOfRange(key: "port", value: "\(c.port)", allowed: "1...65535")
        }
        if let admin = c.adminPort {
            guard (1...65535).contains(admin) else {
                throw ConfigError.outOfRange(key: "adminPort", value: "\(admin)", allowed: "1...65535")
            }
            guard admin != c.port else {
                throw ConfigError.outOfRange(key: "adminPort", value: "\(admin)", allowed: "a port other than `port` (\(c.port))")
            }
        }
        guard c.maxRequestBodyBytes > 0 else {
            throw ConfigError.outOfRange(key: "maxRequestBodyBytes", value: "\(c.maxRequestBodyBytes)", allowed: "> 0")
        }
        if let error = c.scheduler.validate(machineMemoryBytes: SchedulerSettings.machineMemoryBytes).first {
            throw ConfigError.invalid(key: error.key.rawValue, reason: error.reason)
        }
        if c.scheduler.slotsPerInstance > 1024 {
            throw ConfigError.outOfRange(key: "maxConcurrency", value: "\(c.scheduler.maxConcurrency)", allowed: "1...1024 (handler threads per instance)")
        }
        // Hardening limits (issue 7)
        guard c.maxResponseBodyBytes > 0 else {
            throw ConfigError.outOfRange(key: "maxResponseBodyBytes", value: "\(c.maxResponseBodyBytes)", allowed: "> 0")
        }
        guard c.maxHeaderBytes >= 1024 else {
            throw ConfigError.outOfRange(key: "maxHeaderBytes", value: "\(c.maxHeaderBytes)", allowed: ">= 1024")
        }
        guard c.maxURIBytes >= 16 else {
            throw ConfigError.outOfRange(key: "maxURIBytes", value: "\(c.maxURIBytes)", allowed: ">= 16")
        }
        guard c.clientTimeoutSeconds >= 0.1 && c.clientTimeoutSeconds <= 3600 else {
            throw ConfigError.outOfRange(key: "clientTimeout", value: "\(c.clientTimeoutSeconds)", allowed: "0.1...3600 seconds")
        }
        guard c.headerTimeoutSeconds >= 0.1 && c.headerTimeoutSeconds <= 3600 else {
            throw ConfigError.outOfRange(key: "headerTimeout", value: "\(c.headerTimeoutSeconds)", allowed: "0.1...3600 seconds")
        }
        guard c.bodyTimeoutSeconds >= 0.1 && c.bodyTimeoutSeconds <= 86400 else {
            throw ConfigError.outOfRange(key: "bodyTimeout", value: "\(c.bodyTimeoutSeconds)", allowed: "0.1...86400 seconds")
        }
        guard (1...1_000_000).contains(c.maxConnections) else {
            throw ConfigError.outOfRange(key: "maxConnections", value: "\(c.maxConnections)", allowed: "1...1000000")
        }
        guard (64...1_048_576).contains(c.instanceMaxOpenFiles) else {
            throw ConfigError.outOfRange(key: "instanceMaxOpenFiles", value: "\(c.instanceMaxOpenFiles)", allowed: "64...1048576")
        }
    }

    private static func cidrs(_ value: TOMLValueConvertible, _ key: String) throws -> [CIDR] {
        guard let array = value.array else { throw ConfigError.wrongType(key: key, expected: "an array of strings") }
        return try array.map { item in
            guard let text = item.string else { throw ConfigError.wrongType(key: key, expected: "an array of strings") }
            do {
                return try CIDR(text)
            } catch {
                throw ConfigError.outOfRange(key: key, value: "\"\(text)\"", allowed: "IP addresses or CIDRs, e.g. \"10.0.0.0/8\"")
            }
        }
    }
}
