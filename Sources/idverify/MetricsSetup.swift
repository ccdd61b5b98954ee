import Metrics
import Ops
import Prometheus

/// The metrics exporter is chosen once, here: swift-metrics to Prometheus,
/// with the service's histogram buckets.
enum MetricsSetup {
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.identityVerifier(registry: registry))
        return registry
    }
}
