import Prometheus

/// Gauges with an `instance` label: one series per live instance, removed when
/// the instance is gone, so the label set stays bounded by the pool's size.
/// Not Sendable: owned by `HostMetrics` on the host's loop thread.
final class PerInstanceGauges {
    private struct Series {
        let slotLimit: Gauge
        var rss: Gauge?
    }

    private let registry: PrometheusCollectorRegistry
    private var series: [UInt32: Series] = [:]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Makes the series match `instances` exactly.
    func update(_ instances: [HostMetrics.InstanceSample]) {
        let live = Set(instances.map(\.id))
        for (id, gone) in series where !live.contains(id) {
            registry.unregisterGauge(gone.slotLimit)
            if let rss = gone.rss { registry.unregisterGauge(rss) }
            series[id] = nil
        }
        for sample in instances {
            let label = [("instance", String(sample.id))]
            var entry = series[sample.id] ?? Series(
                slotLimit: registry.makeGauge(
            descriptor: .tidepool("instance_slot_limit", unit: "", help: "Requests the instance may run at once (its slot limit in force)."), labels: label),
                rss: nil)
            entry.slotLimit.set(Double(sample.slotLimit))
            if let rss = sample.rssBytes {
                let gauge = entry.rss ?? registry.makeGauge(
            descriptor: .tidepool("instance_resident_memory", unit: "bytes", help: "Resident memory of the instance process (from its last stats report)."), labels: label)
                gauge.set(Double(rss))
                entry.rss = gauge
            }
            series[sample.id] = entry
        }
    }
}
