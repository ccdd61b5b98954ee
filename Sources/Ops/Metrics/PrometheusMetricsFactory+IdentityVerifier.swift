import Prometheus

extension PrometheusMetricsFactory {
    /// The factory the executable bootstraps swift-metrics with, once:
    ///
    /// ```swift
    /// let prometheus = PrometheusCollectorRegistry()
    /// MetricsSystem.bootstrap(PrometheusMetricsFactory.identityVerifier(registry: prometheus))
    /// ```
    ///
    /// Histogram buckets fit the service's timings: verdict latency runs from milliseconds (a
    /// counter check) to a day (a parked submission whose deadline is 24 h); registry calls from
    /// milliseconds to the call timeout.
    public static func identityVerifier(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let verdictLatency: [Duration] = [
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(15), .seconds(30),
            .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(4 * 3600), .seconds(24 * 3600),
        ]
        let registryCall: [Duration] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.durationHistogramBuckets["identity_verdict_latency_seconds"] = verdictLatency
        factory.valueHistogramBuckets["identity_verdict_latency_seconds"] = verdictLatency.map(\.seconds)
        factory.durationHistogramBuckets["identity_registry_request_duration_seconds"] = registryCall
        factory.valueHistogramBuckets["identity_registry_request_duration_seconds"] = registryCall.map(\.seconds)
        factory.durationHistogramBuckets["identity_registry_admission_wait_seconds"] = registryCall
        return factory
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
