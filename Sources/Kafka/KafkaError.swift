/// An error from the Kafka layer. `description` carries librdkafka's text and
/// the code, never message contents.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: new codes can be added without
    /// breaking callers that switch over the known ones with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case configuration
            case clientCreation
            case produce
            case delivery
            case commit
            case query
            case subscription
            case admin
            case closed
            case timedOut
            case mockCluster
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A configuration property was unknown or had an invalid value.
        public static let configuration = Code(.configuration)
        /// librdkafka refused to create a client.
        public static let clientCreation = Code(.clientCreation)
        /// A message could not be enqueued for sending.
        public static let produce = Code(.produce)
        /// A message was not delivered.
        public static let delivery = Code(.delivery)
        /// An offset commit failed.
        public static let commit = Code(.commit)
        /// A metadata, watermark or committed-offset query failed.
        public static let query = Code(.query)
        /// Subscribing, assigning, pausing or resuming failed.
        public static let subscription = Code(.subscription)
        /// An admin operation (topic creation) failed.
        public static let admin = Code(.admin)
        /// The client was already closed.
        public static let closed = Code(.closed)
        /// A blocking call did not complete in time.
        public static let timedOut = Code(.timedOut)
        /// The embedded (mock) cluster refused an operation.
        public static let mockCluster = Code(.mockCluster)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// librdkafka's `rd_kafka_resp_err_t` value, when one caused this error.
    public var rdkafkaCode: Int32?
    /// librdkafka's name of that code (such as `_MSG_TIMED_OUT`).
    public var rdkafkaName: String?
    /// Human-readable reason (librdkafka's text or ours; never payload data).
    public var reason: String
    /// The same call may succeed if tried again.
    public var isRetriable: Bool
    /// The client cannot be used any more.
    public var isFatal: Bool

    public init(
        code: Code, reason: String, rdkafkaCode: Int32? = nil, rdkafkaName: String? = nil,
        isRetriable: Bool = false, isFatal: Bool = false
    ) {
        self.code = code
        self.reason = reason
        self.rdkafkaCode = rdkafkaCode
        self.rdkafkaName = rdkafkaName
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    public var description: String {
        var text = "KafkaError(\(code)): \(reason)"
        if let rdkafkaName { text += " [\(rdkafkaName)]" }
        if isFatal { text += " (fatal)" } else if isRetriable { text += " (retriable)" }
        return text
    }
}
