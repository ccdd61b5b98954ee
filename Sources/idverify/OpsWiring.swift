import Logging
import Prometheus
import ServiceLifecycle
import Worker

/// The operations services beside the worker (filled in with the Ops module).
enum OpsWiring {
    static func services(runtime: WorkerRuntime, metrics: PrometheusCollectorRegistry, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        []
    }
}
