import TidepoolCore

/// Cold-start visibility: the first response of each new instance carries a
/// `server-timing` header with its start phases, as Vercel's Python runtime
/// does. Forked instances list the fork and the template's phases (the import
/// they share); spawned ones their own interpreter start and import. Every
/// instance adds `first-call`: dispatch of its first request to its head.
extension HostRuntime {
    /// The header value for an instance that just became ready.
    func serverTiming(kind: StartKind, startMillis: Double, phases: [StartPhase]) -> String {
        var parts = ["cold-start;desc=\"\(kind.name)\";dur=\(Self.format(startMillis))"]
        for phase in phases { parts.append(Self.timingEntry(phase.name, Double(phase.nanos) / 1e6)) }
        if kind == .fork, let template {
            for phase in template.phases {
                parts.append("template-\(Self.token(phase.name));desc=\"shared by forks\";dur=\(Self.format(Double(phase.nanos) / 1e6))")
            }
        }
        return parts.joined(separator: ", ")
    }

    /// Adds the instance's pending `server-timing` to its first response head.
    func withServerTiming(_ head: ResponseHead, for pending: PendingRequest) -> ResponseHead {
        guard let instanceID = pending.instance, let record = instances[instanceID],
              let timing = record.serverTiming else { return head }
        record.serverTiming = nil
        var head = head
        let firstCall = Self.timingEntry("first-call", Self.millis(since: pending.dispatchedAt))
        head.headers.append(Header("Server-Timing", timing + ", " + firstCall))  // once per instance
        return head
    }

    private static func timingEntry(_ name: String, _ millis: Double) -> String {
        "\(token(name));dur=\(format(millis))"
    }

    /// A metric name is an HTTP token: anything else becomes `-`.
    private static func token(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }
}
