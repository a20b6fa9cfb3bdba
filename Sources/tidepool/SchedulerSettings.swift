import Foundation
import TOMLKit
import TidepoolCore
import TidepoolProject

/// The scheduler's keys in `config/tidepool.toml`, the legacy fixed-pool keys,
/// and `vercel.json` `functions` settings, applied to a `SchedulerConfig`.
enum SchedulerSettings {
    /// Applies one TOML key if it belongs to the scheduler; false if it does not.
    ///
    /// Legacy keys: `instances = N` pins the pool at N (minInstances =
    /// maxInstances = N), `threads = N` is `maxConcurrency`.
    static func apply(key: String, value: TOMLValueConvertible, to c: inout SchedulerConfig) throws -> Bool {
        if key == "instances" {
            let n = try TOMLValues.int(value, key)
            guard n >= 1 else { throw ConfigError.outOfRange(key: key, value: "\(n)", allowed: ">= 1") }
            c.minInstances = n
            c.maxInstances = n
            return true
        }
        if key == "threads" {
            c.maxConcurrency = try TOMLValues.int(value, key)
            return true
        }
        guard let known = SchedulerConfig.Key(rawValue: key) else { return false }
        switch known {
        case .mode:
            let raw = try TOMLValues.string(value, key)
            guard let mode = SchedulerConfig.Mode(rawValue: raw) else {
                throw ConfigError.outOfRange(key: key, value: raw, allowed: "fluid, classic")
            }
            c.mode = mode
        case .minInstances: c.minInstances = try TOMLValues.int(value, key)
        case .maxInstances: c.maxInstances = try TOMLValues.int(value, key)
        case .spareInstances: c.spareInstances = try TOMLValues.int(value, key)
        case .maxConcurrency: c.maxConcurrency = try TOMLValues.int(value, key)
        case .targetUtilisation: c.targetUtilisation = try TOMLValues.number(value, key)
        case .stableWindow: c.stableWindow = try seconds(value, key)
        case .panicWindow: c.panicWindow = try seconds(value, key)
        case .panicThreshold: c.panicThreshold = try TOMLValues.number(value, key)
        case .idleTimeout: c.idleTimeout = try seconds(value, key)
        case .queueDepth: c.queueDepth = try TOMLValues.int(value, key)
        case .queueTimeout: c.queueTimeout = try seconds(value, key)
        case .maxDuration: c.maxDuration = try seconds(value, key)
        case .stuckGrace: c.stuckGrace = try seconds(value, key)
        case .maxStartsInFlight: c.maxStartsInFlight = try TOMLValues.int(value, key)
        case .saturationThreshold: c.saturationThreshold = try TOMLValues.number(value, key)
        case .saturationWindow: c.saturationWindow = try seconds(value, key)
        case .instanceMemoryMB: c.instanceMemoryMB = try TOMLValues.int(value, key)
        }
        return true
    }

    /// `vercel.json` `functions.<entrypoint>`: maxDuration, maxConcurrency and
    /// memory fill the keys that neither the config file nor a flag set
    /// (the operator's explicit choice wins over the app's declaration).
    static func apply(_ rule: FunctionRule, to c: inout SchedulerConfig, except explicit: Set<String>) {
        if let seconds = rule.maxDuration, !explicit.contains("maxDuration") {
            c.maxDuration = .milliseconds(Int64((seconds * 1000).rounded()))
        }
        if let concurrency = rule.maxConcurrency, !explicit.contains("maxConcurrency"), !explicit.contains("threads") {
            c.maxConcurrency = concurrency
        }
        if let memory = rule.memory, !explicit.contains("instanceMemoryMB") {
            c.instanceMemoryMB = memory
        }
    }

    /// The machine's physical memory, for the memory-derived `maxInstances`.
    static var machineMemoryBytes: UInt64 {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? UInt64(pages) * UInt64(size) : 1 << 30
    }

    static func seconds(_ value: TOMLValueConvertible, _ key: String) throws -> Duration {
        let s = try TOMLValues.number(value, key)
        guard s.isFinite, s >= 0, s < 1e9 else {
            throw ConfigError.outOfRange(key: key, value: "\(s)", allowed: "0 or more seconds")
        }
        return .milliseconds(Int64((s * 1000).rounded()))
    }
}
