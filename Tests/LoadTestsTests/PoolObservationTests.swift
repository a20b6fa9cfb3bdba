import Foundation
import LoadCore
import Testing

@Suite struct PoolObservationTests {
    @Test func statusToleratesMissingAndExtraFields() throws {
        let today = try #require(StatusDocument(json: Data("""
            {"configuration": {"instances": 2}, "inFlight": 3, "queued": 1, "phase": "serving",
             "instances": [{"id": 1, "pid": 10, "state": "ready", "inFlight": 2, "served": 5, "startKind": "fork",
                            "startMillis": null, "rssBytes": null}, {"id": 2, "state": "starting"}]}
            """.utf8)))
        #expect(today.instances.map(\.id) == ["1", "2"] && today.instances.map(\.state) == ["ready", "starting"])
        #expect(today.inFlight == 3 && today.queued == 1 && !today.hasScheduler && today.minInstances == nil)
        let minimal = try #require(StatusDocument(json: Data("{}".utf8)))
        #expect(minimal.instances.isEmpty && minimal.inFlight == nil)
        let fluid = try #require(StatusDocument(json: Data("""
            {"instances": [], "scheduler": {"minInstances": 1, "anything": [1, 2]}, "configuration": {"minInstances": 4}}
            """.utf8)))
        #expect(fluid.hasScheduler && fluid.minInstances == 1)
        #expect(StatusDocument(json: Data("not json".utf8)) == nil)
    }

    @Test func coldStartsAreNewIdsAfterTheFirstPoll() {
        var observer = PoolObserver()
        func status(_ ids: [Int]) -> StatusDocument {
            StatusDocument(json: Data("{\"instances\": [\(ids.map { "{\"id\": \($0), \"state\": \"idle\"}" }.joined(separator: ","))]}".utf8))!
        }
        #expect(observer.observe(status([1, 2]), metrics: nil).coldStarts == 0)
        #expect(observer.observe(status([1, 2, 3, 4]), metrics: nil).coldStarts == 2)
        #expect(observer.observe(status([1]), metrics: nil).coldStarts == 0)
        let sample = observer.observe(status([1, 5]), metrics: nil)
        #expect(sample.coldStarts == 1 && sample.instances == 2 && sample.instancesByState == ["idle": 2])
    }

    @Test func metricsCountersAreFoundByNameAndIncreasesComputed() {
        let first = MetricsDocument(prometheus: """
            # HELP tidepool_cold_starts_total Cold starts by kind.
            # TYPE tidepool_cold_starts_total counter
            tidepool_cold_starts_total{kind="fork"} 2
            tidepool_cold_starts_total{kind="spawn"} 1
            tidepool_cold_start_duration_seconds_bucket{le="0.1"} 3
            tidepool_cold_start_duration_seconds_sum 0.2
            tidepool_active_cpu_seconds_total 1.5
            tidepool_provisioned_memory_gigabyte_seconds_total 0.25
            """)
        #expect(first == MetricsDocument(coldStarts: 3, activeCPUSeconds: 1.5, gbSeconds: 0.25))
        let later = MetricsDocument(prometheus: "tidepool_cold_starts_total{kind=\"fork\"} 7\ntidepool_active_cpu_seconds_total 4\ntidepool_provisioned_memory_gigabyte_seconds_total 1.25\n")
        var observer = PoolObserver()
        let status = StatusDocument(json: Data("{\"instances\": []}".utf8))!
        #expect(observer.observe(status, metrics: first).coldStarts == 0)
        #expect(observer.observe(status, metrics: later).coldStarts == 4)
        #expect(observer.increase(\.activeCPUSeconds) == 2.5)
        #expect(observer.increase(\.gbSeconds) == 1)
        #expect(MetricsDocument(prometheus: "other_metric 1\n") == MetricsDocument())
    }
}
