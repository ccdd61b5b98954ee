import CRdKafka
import Foundation
import Logging

/// Owns one `rd_kafka_t`. librdkafka handles are thread-safe, so the pointer may
/// be used from any thread; it is destroyed exactly once, in `deinit`, after
/// the owner has stopped its poll thread.
final class RDKafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Kept alive for as long as librdkafka may call back with it as opaque.
    private let context: AnyObject?
    /// The broker addresses it was given (`bootstrap.servers`), counted in ``LiveClients`` until
    /// `rd_kafka_destroy` has returned.
    private let brokers: [String]

    enum Kind {
        case producer
        case consumer
        var rdkafkaType: rd_kafka_type_t { self == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER }
    }

    /// Creates a client from properties; `configure` installs callbacks on the
    /// `rd_kafka_conf_t` before the handle takes ownership of it.
    init(
        kind: Kind, properties: [(String, String)], context: AnyObject?,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let conf = try RDKafkaHandle.makeConf(properties)
        if let context {
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        }
        configure(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(kind.rdkafkaType, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .clientCreation, reason: errorText(errstr), isFatal: true)
        }
        self.pointer = rk
        self.context = context
        self.brokers = LiveClients.addresses(properties.last { $0.0 == "bootstrap.servers" }?.1 ?? "")
        LiveClients.opened(self.brokers)
    }

    deinit {
        // rd_kafka_destroy joins librdkafka's threads and can block for a while:
        // never on the cooperative pool, where the last release may happen.
        let pointer = SendablePointer(pointer)
        // The callback context must outlive the handle: librdkafka may log while closing.
        let context = KeepAlive(self.context)
        let brokers = self.brokers
        Thread.detachNewThread {
            rd_kafka_destroy(pointer.value)
            withExtendedLifetime(context) {}
            LiveClients.destroyed(brokers)
        }
    }

    /// Applies properties one by one so that an error names the property.
    static func makeConf(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let detail = errorText(errstr)
                throw KafkaError(
                    code: .configuration,
                    reason: "Kafka property '\(name)': \(detail.isEmpty ? "rejected" : detail)"
                )
            }
        }
        return conf
    }

    /// The Swift object registered as this handle's opaque.
    static func context<T: AnyObject>(_ opaque: UnsafeMutableRawPointer?, as: T.Type) -> T? {
        guard let opaque else { return nil }
        return Unmanaged<T>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// librdkafka's log lines routed into an injected swift-log logger.
final class RDKafkaLogBridge: @unchecked Sendable {  // immutable after init; Logger is Sendable
    let logger: Logger
    init(logger: Logger) { self.logger = logger }

    static let callback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
        rk, level, facility, buffer in
        guard let rk, let bridge = RDKafkaHandle.context(rd_kafka_opaque(rk), as: RDKafkaCallbackContext.self)?.logBridge
        else { return }
        let text = buffer.map { String(cString: $0) } ?? ""
        let fac = facility.map { String(cString: $0) } ?? ""
        let swiftLevel: Logger.Level
        switch level {
        case ...3: swiftLevel = .error
        case 4: swiftLevel = .warning
        case 5, 6: swiftLevel = .info
        default: swiftLevel = .debug
        }
        bridge.logger.log(level: swiftLevel, "librdkafka: \(text)", metadata: ["kafka.facility": .string(fac)])
    }
}

/// Base class of the per-client objects passed to librdkafka as opaque.
class RDKafkaCallbackContext: @unchecked Sendable {  // subclasses guard their mutable state
    let logBridge: RDKafkaLogBridge
    init(logger: Logger) { self.logBridge = RDKafkaLogBridge(logger: logger) }
}

/// The text librdkafka wrote into an error buffer, up to its terminating NUL.
func errorText(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// A C handle handed to the thread that destroys it.
struct SendablePointer: @unchecked Sendable {  // used by exactly one thread after the hand-over
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}

/// Keeps an object alive until the thread that holds it is done.
struct KeepAlive: @unchecked Sendable {  // only retained and released, never used
    let object: AnyObject?
    init(_ object: AnyObject?) { self.object = object }
}
