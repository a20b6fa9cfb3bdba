import Foundation
import FoundationXML
import LoadCore
import Testing

/// A report rendered from a recorded timeline must parse back to the same numbers.
@Suite struct ReportTests {
    private func recorded() -> (Report, Summary) {
        var recorder = TimelineRecorder()
        var observer = PoolObserver()
        for second in 0..<6 {
            let t = Double(second)
            for i in 0..<(10 * (second + 1)) {
                recorder.sent(at: t + Double(i) / 100, lateness: 0)
                recorder.completed(at: t + Double(i) / 100 + 0.005, latencySeconds: 0.005 + Double(second) / 1000, error: i == 0 && second == 3 ? "502" : nil)
            }
            let ids = second < 2 ? ["1"] : ["1", "2", "3"]
            let json = """
                {"instances": [\(ids.map { "{\"id\": \($0), \"state\": \"\($0 == "1" ? "busy" : "idle")\", \"extra\": true}" }.joined(separator: ","))],
                 "inFlight": \(second), "queued": 0, "somethingNew": {"a": 1}}
                """
            let sample = observer.observe(StatusDocument(json: Data(json.utf8))!, metrics: nil)
            recorder.polled(at: t + 0.01, sample)
        }
        recorder.finish()
        let rows = recorder.rows
        let pool = Summary.poolFigures(rows)
        let summary = Summary(
            scenario: "recorded", target: "http://127.0.0.1:1", startedAt: "2026-01-01T00:00:00Z", durationSeconds: 6,
            sent: rows.reduce(0) { $0 + $1.sent }, completed: rows.reduce(0) { $0 + $1.completed },
            errors: rows.reduce(0) { $0 + $1.errors }, errorsByCode: ["502": 1], latencyMs: .init(recorder.total),
            lateSends: 0, maxLatenessMs: 0, connectionWaits: 0, generatorCPUSeconds: 0.1, peakInstances: pool.peak, meanInstances: pool.mean,
            instanceSeconds: pool.seconds, coldStarts: rows.reduce(0) { $0 + $1.coldStarts }, activeCPUSeconds: nil,
            gbSeconds: nil, scheduler: false, minInstances: nil, finalInstances: pool.final)
        let scenario = Scenario(name: "recorded", description: "A <recorded> run.", phases: [
            Phase(name: "one", durationSeconds: 3, load: .rate(from: 1, to: 1, arrival: .constant), routes: RouteMix([.init(path: "/")])),
            Phase(name: "two", durationSeconds: 3, load: .users(count: 1, thinkSeconds: 0), routes: RouteMix([.init(path: "/")])),
        ])
        return (Report(summary: summary, rows: rows, scenario: scenario), summary)
    }

    @Test func summaryJSONRoundTrips() throws {
        let (report, summary) = recorded()
        let decoded = try JSONDecoder().decode(Summary.self, from: try report.summaryJSON())
        #expect(decoded == summary)
        #expect(summary.sent == 210 && summary.completed == 209 && summary.errors == 1)
        #expect(summary.peakInstances == 3 && summary.finalInstances == 3)
        #expect(summary.instanceSeconds == 14)
        #expect(summary.coldStarts == 2)  // ids 2 and 3 appeared after the first poll
    }

    @Test func timelineCSVParsesBackToTheRows() {
        let (report, _) = recorded()
        let lines = report.timelineCSV().split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines[0] == TimelineCSV.header)
        #expect(lines.count == 7)
        func column(_ name: String) -> [String] { lines.dropFirst().map { $0[TimelineCSV.header.firstIndex(of: name)!] } }
        #expect(column("sent") == ["10", "20", "30", "40", "50", "60"])
        #expect(column("errors") == ["0", "0", "0", "1", "0", "0"])
        #expect(column("errors_by_code")[3] == "502:1")
        #expect(column("instances") == ["1", "1", "3", "3", "3", "3"])
        #expect(column("busy") == ["1", "1", "1", "1", "1", "1"])
        #expect(column("idle") == ["0", "0", "2", "2", "2", "2"])
        #expect(column("cold_starts") == ["0", "0", "2", "0", "0", "0"])
        #expect(column("in_flight") == ["0", "1", "2", "3", "4", "5"])
        #expect(Double(column("p50_ms")[5]).map { abs($0 - 10) < 0.05 } == true)
        #expect(lines.dropFirst().allSatisfy { $0.count == TimelineCSV.header.count })
    }

    @Test func htmlHasFiveWellFormedOfflineChartsOnOneTimeAxis() throws {
        let (report, _) = recorded()
        let html = report.html()
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("A &lt;recorded&gt; run."))
        for forbidden in ["<script", "src=", "href=", "@import", "url("] { #expect(!html.contains(forbidden)) }
        let svgs = html.components(separatedBy: "<svg").dropFirst().map { "<svg" + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        #expect(svgs.count == 5)
        var widths: Set<String> = []
        for svg in svgs {
            let parser = XMLParser(data: Data(svg.utf8))
            let collector = Collector()
            parser.delegate = collector
            #expect(parser.parse(), "SVG is not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
            widths.insert(collector.rootWidth ?? "")
            #expect(collector.elements.contains("polyline") || collector.elements.contains("rect"))
            #expect(collector.phaseLines == 2)  // one dashed marker per phase start
        }
        #expect(widths.count == 1)
        for title in ["Requests per second", "Latency", "Instances", "Cold starts", "Requests at the host"] { #expect(html.contains(title)) }
    }

    @Test func terminalTableAndCompareShowNAWhenMetricsAreMissing() {
        let (_, summary) = recorded()
        let table = SummaryTable.render(summary)
        #expect(table.contains("requests sent"))
        #expect(table.contains("GB-seconds"))
        let compare = SummaryTable.compare([("fluid", summary), ("classic", summary)])
        let lines = compare.split(separator: "\n")
        #expect(lines[0].contains("fluid") && lines[0].contains("classic"))
        #expect(lines.first { $0.hasPrefix("GB-seconds") }?.components(separatedBy: "n/a").count == 3)
        #expect(lines.first { $0.hasPrefix("requests") }?.components(separatedBy: "210").count == 3)
    }
}

private final class Collector: NSObject, XMLParserDelegate {
    var elements: Set<String> = []
    var rootWidth: String?
    var phaseLines = 0

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == "svg" { rootWidth = attributes["width"] }
        if name == "line", attributes["class"] == "phase" { phaseLines += 1 }
        elements.insert(name)
    }
}
