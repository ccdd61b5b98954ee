import Kafka

/// Kafka is usable when the cluster answers a metadata request for the service's topics within
/// the timeout and every one of them exists with at least one partition.
///
/// Any client handle will do; the executable passes a tool consumer (the lag sampler's, say), so
/// the check never waits behind the worker's own commits.
public struct KafkaReadinessCheck: ReadinessCheck {
    public let name: String
    private let consumer: KafkaConsumer
    private let topics: [String]
    private let timeoutMilliseconds: Int32

    /// - Parameters:
    ///   - consumer: Asked for the topics' metadata.
    ///   - topics: Topics that must exist (the request topics, the verdict and dead-letter topics).
    ///   - timeout: For the metadata request. Default: 1.5 s (under the probe's default 2 s).
    ///   - name: Default: `kafka`.
    public init(consumer: KafkaConsumer, topics: [String], timeout: Duration = .milliseconds(1500), name: String = "kafka") {
        self.name = name
        self.consumer = consumer
        self.topics = topics
        self.timeoutMilliseconds = timeout.milliseconds
    }

    public func check() async -> ReadinessStatus {
        do {
            let counts = try await self.consumer.partitionCounts(self.topics, timeoutMilliseconds: self.timeoutMilliseconds)
            let missing = self.topics.filter { (counts[$0] ?? 0) < 1 }
            if !missing.isEmpty {
                return .notReady(self.name, reason: "topics missing: \(missing.joined(separator: ", "))")
            }
            return .ready(self.name)
        } catch {
            return .notReady(self.name, reason: "metadata request failed: \(errorSummary(error))")
        }
    }
}
