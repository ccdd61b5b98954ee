/// One transport to the population registry (contract section 5).
///
/// A conforming type makes exactly **one** call per method invocation: no retries, no rate limiting,
/// no circuit breaking. Those live in ``ResilientRegistryClient``, which wraps any transport, so the
/// JSON-over-HTTP client (``HTTPRegistryClient``) and a SOAP/XML adapter for the real integration
/// (service `TraCuuThongTinCongDan`, fields `SoDinhDanh`/`SoCMND`, `HoVaTen`, `NgayThangNamSinh`)
/// can stand side by side without the worker knowing which one it talks to.
///
/// Failures are thrown as ``RegistryError`` (with ``RegistryError/isRetriable`` set according to the
/// contract: 400/401/403 permanent; 429, 5xx, timeouts and connection failures transient).
/// Cancellation of the calling task is reported as `CancellationError`.
public protocol RegistryClient: Sendable {
    /// `POST /v1/citizens/verify`: do name, date of birth and id number belong together?
    ///
    /// - Parameters:
    ///   - query: What to check. The name is sent as given (the worker sends the normalised form).
    ///   - deadline: The call fails with ``RegistryError/Code/timeout`` if no answer has arrived by then.
    func verify(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> VerifyResult

    /// `POST /v1/citizens/lookup`: like ``verify(_:deadline:)``, and on a match the citizen's record.
    func lookup(_ query: RegistryQuery, deadline: ContinuousClock.Instant) async throws -> LookupResult
}
