import Prometheus
import Testing
import TidepoolCore
@testable import TidepoolFront

/// The Swift side of `/_tidepool/metrics`: names, bounded labels, and counters
/// that never go backwards when instances die.
struct HostMetricsTests {
    private func text(_ metrics: HostMetrics) -> String {
        String(decoding: metrics.render(), as: UTF8.self)
    }

    private func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    private func update(_ metrics: HostMetrics, instances: [UInt32]) {
        metrics.update(
            states: .init(idle: instances.count), inFlight: 0, queued: 0,
            instances: instances.map { .init(id: $0, slotLimit: 8, rssBytes: 50_000_000) },
            hostRSSBytes: 1000, hostOpenFDs: 12)
    }

    @Test func countersSurviveInstanceDeaths() {
        let metrics = HostMetrics()
        update(metrics, instances: [1, 2])
        for _ in 0..<3 { metrics.invocationEnded(cpuNanos: 500_000_000) }
        metrics.instanceLifetime(memoryMB: 2048, duration: .seconds(3))
        metrics.requestCompleted(status: 200, error: nil, durationNanos: 5_000_000, queueWaitNanos: 0)
        // Instance 1 dies and is replaced by 3: nothing the host counted goes away.
        metrics.scaleEvent(direction: .up, reason: .died)
        metrics.instanceStarted(kind: .fork, coldStart: .milliseconds(20))
        update(metrics, instances: [2, 3])
        metrics.invocationEnded(cpuNanos: 500_000_000)
        metrics.requestCompleted(status: 502, error: .noResponse, durationNanos: 5_000_000, queueWaitNanos: nil)

        let out = text(metrics)
        #expect(value(out, "tidepool_invocations_total") == 4)
        #expect(value(out, "tidepool_active_cpu_seconds_total") == 2)
        #expect(value(out, "tidepool_provisioned_memory_gigabyte_seconds_total") == 6)
        #expect(value(out, #"tidepool_requests_total{status_class="2xx",error="none"}"#) == 1)
        #expect(value(out, #"tidepool_requests_total{status_class="5xx",error="NO_RESPONSE_FROM_FUNCTION"}"#) == 1)
        #expect(value(out, #"tidepool_scale_events_total{direction="up",reason="died"}"#) == 1)
        #expect(value(out, #"tidepool_cold_starts_total{kind="fork"}"#) == 1)
        #expect(value(out, "tidepool_request_duration_seconds_count") == 2)
        #expect(value(out, "tidepool_request_queue_wait_seconds_count") == 1)
    }

    @Test func perInstanceSeriesFollowTheLiveInstances() {
        let metrics = HostMetrics()
        update(metrics, instances: [1, 2])
        #expect(value(text(metrics), #"tidepool_instance_slot_limit{instance="1"}"#) == 8)
        update(metrics, instances: [2, 3])
        let out = text(metrics)
        #expect(!out.contains(#"instance="1""#))
        #expect(value(out, #"tidepool_instance_slot_limit{instance="3"}"#) == 8)
        #expect(value(out, #"tidepool_instance_resident_memory_bytes{instance="2"}"#) == 50_000_000)
        #expect(value(out, #"tidepool_instances{state="idle"}"#) == 2)
        #expect(value(out, "tidepool_host_open_fds") == 12)
    }

    @Test func labelSetsAreClosed() {
        let metrics = HostMetrics()
        for status in [0, 99, 101, 200, 204, 301, 404, 499, 500, 503, 600, 999] {
            metrics.requestCompleted(status: status, error: nil, durationNanos: 1_000_000, queueWaitNanos: nil)
        }
        for code in ErrorCode.allCases {
            metrics.requestCompleted(status: Int(code.status), error: code, durationNanos: 1_000_000, queueWaitNanos: nil)
        }
        let classes = Set(text(metrics).split(separator: "\n")
            .filter { $0.hasPrefix("tidepool_requests_total{") }
            .compactMap { $0.split(separator: "\"").dropFirst().first.map(String.init) })
        #expect(classes.isSubset(of: ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]))
        // Closed sets exist from the start, so rate() begins at zero instead of at the first event.
        let fresh = text(HostMetrics())
        #expect(fresh.contains(#"tidepool_scale_events_total{direction="down",reason="idle"} 0"#))
        #expect(fresh.contains(#"tidepool_cold_starts_total{kind="spawn"} 0"#))
        #expect(!fresh.contains("kind=\"template\""))
    }

    @Test func everyNameIsPrefixedAndInBaseUnits() {
        let metrics = HostMetrics()
        update(metrics, instances: [1])
        for line in text(metrics).split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.hasPrefix("tidepool_"))
            #expect(!line.contains("_ms") && !line.contains("millis"))
        }
    }

    @Test func loggedPathsAreOneLineAndCapped() {
        #expect(ObservedRequests.loggable(path: Array("/a\nb\u{7f}".utf8)) == "/a?b?")
        let long = ObservedRequests.loggable(path: Array(repeating: UInt8(ascii: "x"), count: 2000))
        #expect(long.count == ObservedRequests.maxLoggedPath + 1)
    }
}

/// `LoopHistogram` must render exactly what swift-prometheus's histogram
/// rendered for the same recordings: dashboards and `promtool` read the text.
struct LoopHistogramTests {
    @Test func rendersLikeSwiftPrometheus() {
        let descriptor = MetricNameDescriptor.tidepool("request_duration", unit: "seconds", help: #"Time \ with a backslash."#)
        let registry = PrometheusCollectorRegistry()
        let reference = registry.makeDurationHistogram(descriptor: descriptor, buckets: HostMetrics.latencyBuckets)
        let loop = LoopHistogram(descriptor: descriptor, buckets: HostMetrics.latencyBuckets)
        let millis: [Int64] = [0, 1, 2, 3, 25, 26, 999, 1000, 1001, 59_999, 299_999, 300_000, 300_001, 10_000_000]
        for value in millis.map({ $0 * 1_000_000 }) + [1, 999_999, 1_000_001, 2_500_000] {
            reference.record(.nanoseconds(value))
            loop.record(nanoseconds: value)
        }
        var text: [UInt8] = []
        loop.emit(into: &text)
        #expect(String(decoding: text, as: UTF8.self) == String(decoding: registry.emitToBuffer(), as: UTF8.self))
        #expect(loop.count == 18)
    }
}
