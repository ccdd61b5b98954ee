import Logging

/// Every logger metadata key this module writes, in one place, under the `registry.` namespace.
/// None of them ever carries personal data: only endpoints, codes, counts and durations.
enum RegistryMetadataKey: String {
    case endpoint = "registry.endpoint"
    case attempt = "registry.attempt"
    case status = "registry.status"
    case errorCode = "registry.error.code"
    case delay = "registry.retry.delay"
    case circuitState = "registry.circuit.state"
    case openUntil = "registry.circuit.open_for"
    case agency = "registry.agency"
    case granted = "registry.limiter.granted"
    case waitingCalls = "registry.scheduler.waiting"
    case tokenFile = "registry.token_file"
}

extension Logger {
    /// Reads and writes metadata by ``RegistryMetadataKey``.
    subscript(registryMetadataKey key: RegistryMetadataKey) -> Logger.Metadata.Value? {
        get { self[metadataKey: key.rawValue] }
        set { self[metadataKey: key.rawValue] = newValue }
    }
}

extension Logger.Metadata {
    /// Builds metadata from ``RegistryMetadataKey``s.
    static func registry(_ pairs: KeyValuePairs<RegistryMetadataKey, Logger.Metadata.Value>) -> Logger.Metadata {
        var metadata = Logger.Metadata()
        for (key, value) in pairs { metadata[key.rawValue] = value }
        return metadata
    }
}
