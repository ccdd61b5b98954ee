/// The registry operations of contract section 5. Also the `endpoint` metric label, so its values
/// are bounded by construction.
public enum RegistryEndpoint: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `POST /v1/citizens/verify`
    case verify
    /// `POST /v1/citizens/lookup`
    case lookup

    /// The request path, relative to the registry's base URL.
    public var path: String {
        switch self {
        case .verify: "/v1/citizens/verify"
        case .lookup: "/v1/citizens/lookup"
        }
    }

    public var description: String { self.rawValue }

    /// The client span's name: literals, not formatted per call.
    var spanName: String {
        switch self {
        case .verify: "registry.verify"
        case .lookup: "registry.lookup"
        }
    }
}
