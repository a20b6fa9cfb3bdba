import Histogram
import LoadCore
import Testing

@Suite struct HistogramMergeTests {
    @Test func mergedHistogramEqualsOneThatRecordedEverything() {
        var a = makeLatencyHistogram()
        var b = makeLatencyHistogram()
        var all = makeLatencyHistogram()
        var random = SeededRandom(seed: 11)
        for i in 0..<20_000 {
            let value = 100 + random.next() % 500_000
            if i % 3 == 0 { _ = a.record(value) } else { _ = b.record(value) }
            _ = all.record(value)
        }
        var merged = a
        merged.add(b)
        #expect(merged.totalCount == all.totalCount)
        for p in [50.0, 90, 99, 99.9, 100] {
            #expect(merged.valueAtPercentile(p) == all.valueAtPercentile(p))
        }
        #expect(merged.max == all.max)
    }

    @Test func recorderMergesSecondsIntoTheTotal() {
        var recorder = TimelineRecorder()
        for i in 0..<100 {
            recorder.sent(at: Double(i) / 50, lateness: 0)
            recorder.completed(at: Double(i) / 50 + 0.01, latencySeconds: i < 50 ? 0.001 : 0.100, error: nil)
        }
        recorder.finish()
        #expect(recorder.rows.count == 2)
        #expect(recorder.total.totalCount == 100)
        #expect(abs(Double(recorder.total.valueAtPercentile(25)) - 1000) < 5)
        #expect(abs(Double(recorder.total.valueAtPercentile(75)) - 100_000) < 200)
        #expect(abs((recorder.rows[0].p50Ms ?? 0) - 1) < 0.01)
        #expect(abs((recorder.rows[1].p50Ms ?? 0) - 100) < 0.2)
    }

    @Test func lateSendsAndErrorsAreCountedPerSecond() {
        var recorder = TimelineRecorder()
        recorder.sent(at: 0.1, lateness: 0.0005)
        recorder.sent(at: 0.2, lateness: 0.004)
        recorder.completed(at: 1.5, latencySeconds: 1.4, error: "FUNCTION_INVOCATION_TIMEOUT")
        recorder.completed(at: 1.6, latencySeconds: 1.4, error: nil)
        recorder.finish()
        #expect(recorder.rows[0].sent == 2)
        #expect(recorder.rows[0].lateSends == 1)
        #expect(recorder.maxLatenessSeconds == 0.004)
        #expect(recorder.rows[1].errors == 1 && recorder.rows[1].completed == 1)
        #expect(recorder.rows[1].errorsByCode == ["FUNCTION_INVOCATION_TIMEOUT": 1])
    }
}
