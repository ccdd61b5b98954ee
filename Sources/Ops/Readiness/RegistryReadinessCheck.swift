import Registry

/// The registry is usable unless its circuit breaker is open (the registry is failing and calls
/// are refused without being made) or it refused the service's token (contract section 5: 401/403
/// make the service unready). A half-open breaker is ready: trial calls are going through.
///
/// The check is passive: it makes no registry call of its own, so it costs no quota.
public struct RegistryReadinessCheck: ReadinessCheck {
    public let name: String
    private let circuitState: @Sendable () -> CircuitBreaker.State
    private let authentication: RegistryAuthenticationMonitor?

    /// - Parameters:
    ///   - registry: Its breaker state is read.
    ///   - authentication: The monitor wrapped around the registry's transport, if any.
    ///   - name: Default: `registry`.
    public init(registry: ResilientRegistryClient, authentication: RegistryAuthenticationMonitor? = nil, name: String = "registry") {
        self.init(circuitState: { registry.circuitState }, authentication: authentication, name: name)
    }

    /// For a registry client other than ``ResilientRegistryClient``.
    public init(
        circuitState: @escaping @Sendable () -> CircuitBreaker.State,
        authentication: RegistryAuthenticationMonitor? = nil,
        name: String = "registry"
    ) {
        self.name = name
        self.circuitState = circuitState
        self.authentication = authentication
    }

    public func check() async -> ReadinessStatus {
        if case .refused(let status)? = self.authentication?.authenticationState {
            return .notReady(self.name, reason: "registry refused the token (HTTP \(status))")
        }
        switch self.circuitState() {
        case .open:
            return .notReady(self.name, reason: "registry circuit breaker open")
        case .halfOpen:
            return ReadinessStatus(name: self.name, ok: true, reason: "circuit breaker half-open")
        case .closed:
            return .ready(self.name)
        }
    }
}
