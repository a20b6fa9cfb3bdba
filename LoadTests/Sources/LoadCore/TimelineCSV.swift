/// `timeline.csv`: one row per second, fixed columns (states Tidepool reports
/// today get their own column; any other state is summed into `other_state`).
public enum TimelineCSV {
    public static let knownStates = ["starting", "idle", "ready", "busy", "draining"]

    public static let header = [
        "second", "sent", "completed", "errors", "errors_by_code", "late_sends", "connection_waits", "p50_ms", "p99_ms",
        "instances",
    ] + knownStates + ["other_state", "in_flight", "queued", "cold_starts"]

    public static func render(_ rows: [TimelineRow]) -> String {
        var lines = [header.joined(separator: ",")]
        for row in rows {
            let codes = row.errorsByCode.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ";")
            var fields = [
                "\(row.second)", "\(row.sent)", "\(row.completed)", "\(row.errors)", codes, "\(row.lateSends)", "\(row.connectionWaits)",
                row.p50Ms.map(format) ?? "", row.p99Ms.map(format) ?? "", row.instances.map(String.init) ?? "",
            ]
            for state in knownStates {
                fields.append(row.instancesByState.map { "\($0[state] ?? 0)" } ?? "")
            }
            let other = row.instancesByState.map { byState in
                byState.filter { !knownStates.contains($0.key) }.values.reduce(0, +)
            }
            fields += [
                other.map(String.init) ?? "", row.inFlight.map(String.init) ?? "", row.queued.map(String.init) ?? "",
                "\(row.coldStarts)",
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return scaled == scaled.rounded() ? "\(Int(scaled))" : "\(scaled)"
    }
}
