import Foundation
import Logging
import Synchronization
import Testing

@testable import Kafka

/// The security settings reach every client built through `KafkaConnectionSettings`, in the
/// documented order, and librdkafka really uses them.
///
/// librdkafka's mock cluster (2.0.2 here) has no SASL or TLS listener: a SASL client is refused with
/// "SASL Handshake not supported by broker (required by mechanism …)". That refusal is what these
/// tests use to show that a consumer and a producer both authenticate with the configured mechanism;
/// a successful SASL/PLAIN login cannot be tested against the embedded broker.
@Suite("Kafka security settings")
struct KafkaSecurityTests {
    static let sasl = KafkaSecurity(
        securityProtocol: .saslSSL, saslMechanism: .scramSHA512, saslUsername: "svc-idverify", saslPassword: "s3cret",
        sslCALocation: "/etc/ssl/kafka-ca.pem")

    @Test("producers and consumers get the same security properties; KAFKA_PROPERTIES wins, prefixed ones per kind")
    func propertiesForEveryClient() {
        let connection = KafkaConnectionSettings(
            bootstrapServers: ["b1:9093", "b2:9093"], security: Self.sasl,
            properties: [
                "socket.keepalive.enable": "true", "producer.linger.ms": "20", "consumer.fetch.wait.max.ms": "10",
                "ssl.endpoint.identification.algorithm": "none",
            ])
        let producer = Dictionary(connection.producerConfiguration(defaults: ["linger.ms": "1"]).rdkafkaProperties) { $1 }
        let consumer = Dictionary(connection.consumerConfiguration(topics: ["t"]).rdkafkaProperties) { $1 }
        for properties in [producer, consumer] {
            #expect(properties["bootstrap.servers"] == "b1:9093,b2:9093")
            #expect(properties["security.protocol"] == "sasl_ssl")
            #expect(properties["sasl.mechanism"] == "SCRAM-SHA-512")
            #expect(properties["sasl.username"] == "svc-idverify")
            #expect(properties["sasl.password"] == "s3cret")
            #expect(properties["ssl.ca.location"] == "/etc/ssl/kafka-ca.pem")
            #expect(properties["socket.keepalive.enable"] == "true")
            #expect(properties["ssl.endpoint.identification.algorithm"] == "none")
        }
        #expect(producer["linger.ms"] == "20")  // producer. prefix over the component's default
        #expect(producer["fetch.wait.max.ms"] == nil)
        #expect(consumer["fetch.wait.max.ms"] == "10")
        #expect(consumer["linger.ms"] == nil)
        #expect(consumer["producer.linger.ms"] == nil && producer["consumer.fetch.wait.max.ms"] == nil)

        // A property set by the operator is applied after the typed security setting, so it wins.
        var override = connection
        override.properties["security.protocol"] = "ssl"
        let list = override.producerConfiguration().rdkafkaProperties.filter { $0.0 == "security.protocol" }.map(\.1)
        #expect(list == ["sasl_ssl", "ssl"])
    }

    @Test("plaintext adds only security.protocol; the password never prints")
    func plaintextAndDescription() {
        #expect(KafkaSecurity().rdkafkaProperties.map(\.0) == ["security.protocol"])
        #expect(!"\(Self.sasl)".contains("s3cret") && !"\(Self.sasl)".contains("svc-idverify"))
        #expect("\(Self.sasl)".contains("SCRAM-SHA-512"))
    }

    @Test("settings that cannot work name the variable")
    func problems() {
        #expect(KafkaSecurity(securityProtocol: .saslPlaintext).problem?.setting == "KAFKA_SASL_USERNAME")
        #expect(KafkaSecurity(securityProtocol: .saslSSL, saslUsername: "u").problem?.setting == "KAFKA_SASL_PASSWORD")
        #expect(KafkaSecurity(saslUsername: "u").problem?.setting == "KAFKA_SECURITY_PROTOCOL")
        #expect(KafkaSecurity(securityProtocol: .saslPlaintext, saslUsername: "u", saslPassword: "p", sslCALocation: "/ca.pem").problem?.setting == "KAFKA_SECURITY_PROTOCOL")
        #expect(Self.sasl.problem == nil)
    }

    @Test("KAFKA_PROPERTIES text", arguments: [
        ("a=1;b = 2 ;", ["a": "1", "b": "2"]), ("", [:]), ("x=a=b", ["x": "a=b"]),
    ])
    func parseProperties(text: String, expected: [String: String]) {
        #expect(KafkaConnectionSettings.parseProperties(text) == expected)
        #expect(KafkaConnectionSettings.parseProperties("novalue") == nil)
        #expect(KafkaConnectionSettings.parseProperties("=1") == nil)
    }

    @Test(
        "librdkafka authenticates every client with the configured mechanism (the mock broker refuses SASL)",
        arguments: [KafkaSecurity.SASLMechanism.plain, .scramSHA256, .scramSHA512])
    func saslReachesProducerAndConsumer(mechanism: KafkaSecurity.SASLMechanism) async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        let connection = KafkaConnectionSettings(
            bootstrapServers: [cluster.bootstrapServers],
            security: KafkaSecurity(
                securityProtocol: .saslPlaintext, saslMechanism: mechanism, saslUsername: "svc", saslPassword: "pw"))
        let producerLogs = LogLines()
        let consumerLogs = LogLines()
        var producerConfiguration = connection.producerConfiguration()
        producerConfiguration.messageTimeoutMilliseconds = 2_000
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: producerLogs.logger("producer"))
        let consumer = try KafkaConsumer(
            configuration: connection.consumerConfiguration(groupID: "security-test", topics: []),
            logger: consumerLogs.logger("consumer"))
        let report = await producer.send([KafkaOutgoingMessage(topic: "t", key: nil, value: Array("v".utf8))])
        #expect(report.first?.error != nil, "a SASL producer must not reach the mock broker")
        await #expect(throws: KafkaError.self) { _ = try await consumer.partitionCounts(["t"], timeoutMilliseconds: 1_000) }
        let expected = "required by mechanism \(mechanism.rawValue)"
        #expect(producerLogs.contains(expected), "producer logs: \(producerLogs.all.prefix(3))")
        #expect(consumerLogs.contains(expected), "consumer logs: \(consumerLogs.all.prefix(3))")
        await consumer.close()
        await producer.close(flushTimeoutMilliseconds: 100)
    }

    @Test("the same clients without SASL reach the mock broker (the control for the test above)")
    func plaintextReachesBroker() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        let connection = KafkaConnectionSettings(bootstrapServers: [cluster.bootstrapServers])
        let producer = try KafkaProducer(configuration: connection.producerConfiguration(), logger: testLogger("producer"))
        let report = await producer.send([KafkaOutgoingMessage(topic: "t", key: nil, value: Array("v".utf8))])
        #expect(report.first?.error == nil)
        await producer.close()
    }
}

/// Captures log lines of one client.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { self.lines.withLock { $0 } }
    func contains(_ text: String) -> Bool { self.all.contains { $0.contains(text) } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: LogLines
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            self.sink.lines.withLock { $0.append("\(event.message)") }
        }
    }
}
