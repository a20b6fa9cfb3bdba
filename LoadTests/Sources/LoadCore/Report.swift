import Foundation

/// Everything written to `--out DIR`, rendered as strings (the shell writes them).
public struct Report: Sendable {
    public var summary: Summary
    public var rows: [TimelineRow]
    public var scenario: Scenario

    public init(summary: Summary, rows: [TimelineRow], scenario: Scenario) {
        self.summary = summary
        self.rows = rows
        self.scenario = scenario
    }

    public func summaryJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(summary)
    }

    public func timelineCSV() -> String { TimelineCSV.render(rows) }

    /// Phase starts, for the dashed markers on every chart.
    var markers: [(second: Double, label: String)] {
        var start = 0.0
        return scenario.phases.map { phase in
            defer { start += phase.durationSeconds }
            return (start, phase.name)
        }
    }

    public func html() -> String {
        let n = rows.count
        func column(_ f: (TimelineRow) -> Double?) -> [Double?] { rows.map(f) }
        let charts = [
            SVGChart(title: "Requests per second", unit: "req/s", seconds: n, series: [
                .init(name: "sent", color: "#4e79a7", values: column { Double($0.sent) }),
                .init(name: "completed", color: "#59a14f", values: column { Double($0.completed) }),
                .init(name: "errors", color: "#e15759", values: column { Double($0.errors) }),
            ], markers: markers),
            SVGChart(title: "Latency from scheduled send", unit: "ms", seconds: n, series: [
                .init(name: "p50", color: "#4e79a7", values: column(\.p50Ms)),
                .init(name: "p99", color: "#f28e2b", values: column(\.p99Ms)),
            ], markers: markers),
            SVGChart(title: "Instances", unit: "count", seconds: n, series: [
                .init(name: "total", color: "#333333", values: column { $0.instances.map(Double.init) }),
                .init(name: "busy", color: "#e15759", values: column { $0.instancesByState.map { Double($0["busy"] ?? 0) } }),
                .init(name: "idle/ready", color: "#59a14f", values: column { r in
                    r.instancesByState.map { Double(($0["idle"] ?? 0) + ($0["ready"] ?? 0)) }
                }),
                .init(name: "starting", color: "#edc948", values: column { $0.instancesByState.map { Double($0["starting"] ?? 0) } }),
                .init(name: "draining", color: "#b07aa1", values: column { $0.instancesByState.map { Double($0["draining"] ?? 0) } }),
            ], markers: markers),
            SVGChart(title: "Requests at the host", unit: "count", seconds: n, series: [
                .init(name: "in flight", color: "#4e79a7", values: column { $0.inFlight.map(Double.init) }),
                .init(name: "queued", color: "#9c755f", values: column { $0.queued.map(Double.init) }),
            ], markers: markers),
            SVGChart(title: "Cold starts", unit: "per second", seconds: n, series: [
                .init(name: "cold starts", color: "#76b7b2", values: column { Double($0.coldStarts) }, bars: true),
            ], markers: markers),
        ]
        var page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <title>tidepool-load: \(escape(summary.scenario))</title>
            <style>
            body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
            table { border-collapse: collapse; margin-bottom: 16px; }
            td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th { text-align: left; background: #f4f4f4; }
            .chart { display: block; margin-bottom: 6px; }
            .title { font-weight: 600; font-size: 13px; }
            .tick { font-size: 11px; fill: #555; }
            .grid { stroke: #e6e6e6; }
            .phase { stroke: #999; stroke-dasharray: 4 3; }
            .phase-label { font-size: 10px; fill: #777; }
            </style></head><body>
            <h1>\(escape(summary.scenario)) → \(escape(summary.target))</h1>
            <p>\(escape(scenario.description)) Started \(escape(summary.startedAt)), \(TimelineCSV.format(summary.durationSeconds)) s.</p>

            """
        page += "<table>\n"
        for (name, value) in SummaryTable.lines(summary) {
            page += "<tr><th>\(escape(name))</th><td>\(escape(value))</td></tr>\n"
        }
        page += "</table>\n"
        page += "<div id=\"charts\">\n" + charts.map { $0.render() }.joined() + "</div>\n"
        page += """
            <p>Latency counts from each request's <em>scheduled</em> send time (open loop, no coordinated omission).
            Instances and queue come from polling <code>/_tidepool/status</code> once a second; dashed lines are phase starts.
            The numbers behind the charts are in <code>timeline.csv</code>; totals in <code>summary.json</code>.</p>
            </body></html>

            """
        return page
    }
}

/// The name/value lines of the summary, shared by the terminal and the HTML.
public enum SummaryTable {
    public static func lines(_ s: Summary) -> [(String, String)] {
        let codes = s.errorsByCode.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        let generatorShare = s.durationSeconds > 0 ? s.generatorCPUSeconds / s.durationSeconds * 100 : 0
        return [
            ("requests sent", "\(s.sent)"),
            ("completed (2xx/3xx)", "\(s.completed)"),
            ("errors", s.errors == 0 ? "0" : "\(s.errors) (\(codes))"),
            ("latency p50 / p90 / p99 / p99.9 / max", [s.latencyMs.p50, s.latencyMs.p90, s.latencyMs.p99, s.latencyMs.p999, s.latencyMs.max].map(ms).joined(separator: " / ")),
            ("late sends (> 1 ms) / max lateness", "\(s.lateSends) / \(ms(s.maxLatenessMs))"),
            ("sends waiting for a connection", "\(s.connectionWaits)"),
            ("generator CPU", "\(fixed(s.generatorCPUSeconds)) s (\(fixed(generatorShare))% of one core)"),
            ("instances peak / mean / final", "\(opt(s.peakInstances)) / \(opt(s.meanInstances)) / \(opt(s.finalInstances))"),
            ("instance-seconds", opt(s.instanceSeconds)),
            ("cold starts", "\(s.coldStarts)"),
            ("active CPU seconds", opt(s.activeCPUSeconds)),
            ("GB-seconds", opt(s.gbSeconds)),
            ("scheduler", s.scheduler ? "yes (minInstances \(opt(s.minInstances)))" : "not reported by the host"),
        ]
    }

    public static func render(_ s: Summary) -> String {
        let rows = lines(s)
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n") + "\n"
    }

    /// Side-by-side comparison of runs (`--compare`), one column per label.
    public static func compare(_ runs: [(label: String, summary: Summary)]) -> String {
        let metrics: [(String, (Summary) -> String)] = [
            ("requests", { "\($0.sent)" }),
            ("errors", { "\($0.errors)" }),
            ("p50 ms", { ms($0.latencyMs.p50) }),
            ("p99 ms", { ms($0.latencyMs.p99) }),
            ("peak instances", { opt($0.peakInstances) }),
            ("mean instances", { opt($0.meanInstances) }),
            ("instance-seconds", { opt($0.instanceSeconds) }),
            ("cold starts", { "\($0.coldStarts)" }),
            ("active CPU seconds", { opt($0.activeCPUSeconds) }),
            ("GB-seconds", { opt($0.gbSeconds) }),
        ]
        let nameWidth = metrics.map(\.0.count).max() ?? 0
        let cells = metrics.map { metric in runs.map { metric.1($0.summary) } }
        let widths = runs.indices.map { i in max(runs[i].label.count, cells.map { $0[i].count }.max() ?? 0) }
        func line(_ name: String, _ values: [String]) -> String {
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + zip(values, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")
        }
        var out = [line("", runs.map(\.label))]
        for (metric, values) in zip(metrics, cells) { out.append(line(metric.0, values)) }
        return out.joined(separator: "\n") + "\n"
    }

    static func ms(_ v: Double) -> String { fixed(v) }
    static func fixed(_ v: Double) -> String { String(format: "%.2f", v) }
    static func opt(_ v: Int?) -> String { v.map(String.init) ?? "n/a" }
    static func opt(_ v: Double?) -> String { v.map(fixed) ?? "n/a" }
}
