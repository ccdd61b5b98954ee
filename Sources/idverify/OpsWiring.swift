import Logging
import Ops
import Prometheus
import ServiceLifecycle
import Worker

/// The worker and its operations services, wired for one process.
enum OpsWiring {
    /// Builds the runtime (with a monitor around the registry transport, so that
    /// `/readyz` fails on a refused token) and every service, the worker first:
    /// a service group stops services in reverse order, so operations stop
    /// before the worker and the PostgreSQL client it runs.
    static func services(
        settings: ServiceSettings, metrics: PrometheusCollectorRegistry, logger: Logger,
        onOpsListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (WorkerRuntime, [ServiceGroupConfiguration.ServiceConfiguration]) {
        var monitor: RegistryAuthenticationMonitor?
        let runtime = try WorkerRuntime(settings: settings, logger: logger) { transport in
            let observed = RegistryAuthenticationMonitor(transport: transport)
            monitor = observed
            return observed
        }
        let operations = try OperationsServices(
            runtime: runtime, prometheus: metrics, registryAuthentication: monitor, logger: logger,
            onServerRunning: onOpsListening)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: WorkerService(runtime: runtime, logger: logger)), .init(service: runtime.retention)]
            + operations.services.map { .init(service: $0) }
        return (runtime, services)
    }
}
