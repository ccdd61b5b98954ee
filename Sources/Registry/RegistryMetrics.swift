import Metrics

/// The registry's metrics, created once and reused (contract section 7):
///
/// - `identity_registry_requests_total{endpoint,status}`: every call made, by outcome. `status` is
///   the HTTP status for the statuses the contract names (`200`, `400`, `401`, `403`, `429`, `500`,
///   `502`, `503`, `504`), `4xx`/`5xx`/`other` for the rest, or `timeout`, `connection_failed`,
///   `invalid_response` when no usable answer came: a bounded set.
/// - `identity_registry_request_duration_seconds{endpoint}`: each call's duration (a histogram once
///   exported to Prometheus).
/// - `identity_registry_retries_total{endpoint}`: calls that were retries.
/// - `identity_registry_circuit_rejections_total{endpoint}`: calls refused by the open breaker (not made).
/// - `identity_registry_circuit_state`: 0 closed, 1 half-open, 2 open.
/// - `identity_registry_admission_wait_seconds`: time spent waiting for a fair-share rate-limit slot.
/// - `identity_registry_stale_slots_total`: slots given up because the call could not be sent in time
///   (a sign of CPU starvation; the call queues again).
public struct RegistryMetrics: Sendable {
    /// The `status` label values for HTTP answers the contract names.
    static let knownStatuses: Set<Int> = [200, 400, 401, 403, 429, 500, 502, 503, 504]
    static let statusLabels: [String] =
        knownStatuses.sorted().map(String.init) + ["4xx", "5xx", "other", "timeout", "connection_failed", "invalid_response"]

    private let requests: [RegistryEndpoint: [String: Counter]]
    private let durations: [RegistryEndpoint: Timer]
    private let retries: [RegistryEndpoint: Counter]
    private let circuitRejections: [RegistryEndpoint: Counter]
    private let circuitState: Gauge
    private let admissionWait: Timer
    private let staleSlots: Counter

    /// - Parameter factory: Where the metrics go. Default: the process-wide `MetricsSystem.factory`,
    ///   which the executable bootstraps (the library never does).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        var requests: [RegistryEndpoint: [String: Counter]] = [:]
        var durations: [RegistryEndpoint: Timer] = [:]
        var retries: [RegistryEndpoint: Counter] = [:]
        var circuitRejections: [RegistryEndpoint: Counter] = [:]
        for endpoint in RegistryEndpoint.allCases {
            var byStatus: [String: Counter] = [:]
            for status in Self.statusLabels {
                byStatus[status] = Counter(
                    label: "identity_registry_requests_total",
                    dimensions: [("endpoint", endpoint.rawValue), ("status", status)],
                    factory: factory
                )
            }
            requests[endpoint] = byStatus
            durations[endpoint] = Timer(
                label: "identity_registry_request_duration_seconds",
                dimensions: [("endpoint", endpoint.rawValue)],
                preferredDisplayUnit: .seconds,
                factory: factory
            )
            retries[endpoint] = Counter(
                label: "identity_registry_retries_total", dimensions: [("endpoint", endpoint.rawValue)], factory: factory)
            circuitRejections[endpoint] = Counter(
                label: "identity_registry_circuit_rejections_total", dimensions: [("endpoint", endpoint.rawValue)], factory: factory)
        }
        self.requests = requests
        self.durations = durations
        self.retries = retries
        self.circuitRejections = circuitRejections
        self.circuitState = Gauge(label: "identity_registry_circuit_state", factory: factory)
        self.admissionWait = Timer(
            label: "identity_registry_admission_wait_seconds", preferredDisplayUnit: .seconds, factory: factory)
        self.staleSlots = Counter(label: "identity_registry_stale_slots_total", factory: factory)
    }

    /// The `status` label for a call's outcome.
    public static func statusLabel(httpStatus: Int?, error: RegistryError?) -> String {
        if let httpStatus {
            if Self.knownStatuses.contains(httpStatus) { return String(httpStatus) }
            switch httpStatus {
            case 400...499: return "4xx"
            case 500...599: return "5xx"
            default: return "other"
            }
        }
        switch error?.code {
        case .some(.timeout): return "timeout"
        case .some(.invalidResponse): return "invalid_response"
        case .none: return "200"
        default: return "connection_failed"
        }
    }

    /// Records one call that was made.
    func recordCall(endpoint: RegistryEndpoint, status: String, duration: Duration, isRetry: Bool) {
        (self.requests[endpoint]?[status] ?? self.requests[endpoint]?["other"])?.increment()
        self.durations[endpoint]?.recordNanoseconds(duration.nanoseconds)
        if isRetry { self.retries[endpoint]?.increment() }
    }

    func recordCircuitRejection(endpoint: RegistryEndpoint) {
        self.circuitRejections[endpoint]?.increment()
    }

    func recordCircuitState(_ state: CircuitBreaker.State) {
        switch state {
        case .closed: self.circuitState.record(0)
        case .halfOpen: self.circuitState.record(1)
        case .open: self.circuitState.record(2)
        }
    }

    func recordStaleSlot() {
        self.staleSlots.increment()
    }

    func recordAdmissionWait(_ duration: Duration) {
        self.admissionWait.recordNanoseconds(duration.nanoseconds)
    }
}
