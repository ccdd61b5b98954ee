import Foundation

/// How every Kafka client of a process reaches the cluster: the brokers, the security settings and
/// the operator's extra librdkafka properties. Build every consumer and producer through
/// ``consumerConfiguration(groupID:topics:defaults:)`` and ``producerConfiguration(defaults:)`` so
/// that none is left without them (the worker's consumer and producer, the dossier-events consumer,
/// the lag reader, the operator commands).
///
/// Precedence, lowest first:
/// 1. the client's typed settings (``KafkaConsumerConfiguration``, ``KafkaProducerConfiguration``);
/// 2. ``security`` (`security.protocol`, `sasl.*`, `ssl.ca.location`);
/// 3. the caller's `defaults` (properties a component chooses for itself);
/// 4. ``properties`` without a prefix (`KAFKA_PROPERTIES`): every client;
/// 5. ``properties`` named `producer.NAME` or `consumer.NAME`: that kind of client only, as `NAME`.
public struct KafkaConnectionSettings: Sendable {
    /// `KAFKA_BROKERS`. Required.
    public var bootstrapServers: [String]
    /// `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_CA_LOCATION`. Default: plaintext.
    public var security: KafkaSecurity
    /// `KAFKA_PROPERTIES` (`name=value;name=value`). Default: none.
    public var properties: [String: String]

    public init(bootstrapServers: [String], security: KafkaSecurity = KafkaSecurity(), properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.security = security
        self.properties = properties
    }

    /// Which clients a property is for.
    public enum ClientKind: Sendable {
        case consumer
        case producer
    }

    /// ``properties`` as they apply to one kind of client, over `defaults`.
    public func properties(for kind: ClientKind, defaults: [String: String] = [:]) -> [String: String] {
        var result = defaults
        let own = kind == .producer ? "producer." : "consumer."
        for (name, value) in self.properties where !name.hasPrefix("producer.") && !name.hasPrefix("consumer.") {
            result[name] = value
        }
        for (name, value) in self.properties where name.hasPrefix(own) {
            result[String(name.dropFirst(own.count))] = value
        }
        return result
    }

    /// Sets `client`'s brokers, security and properties (over `defaults`).
    public func apply(to client: inout KafkaClientConfiguration, kind: ClientKind, defaults: [String: String] = [:]) {
        client.bootstrapServers = self.bootstrapServers
        client.security = self.security
        client.properties = self.properties(for: kind, defaults: defaults)
    }

    /// A consumer configuration with these settings.
    public func consumerConfiguration(
        groupID: String = "tthc-identity-verifier", topics: [String], defaults: [String: String] = [:]
    ) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: self.bootstrapServers, groupID: groupID, topics: topics)
        self.apply(to: &configuration.client, kind: .consumer, defaults: defaults)
        return configuration
    }

    /// A producer configuration with these settings.
    public func producerConfiguration(defaults: [String: String] = [:]) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: self.bootstrapServers)
        self.apply(to: &configuration.client, kind: .producer, defaults: defaults)
        return configuration
    }

    /// `KAFKA_PROPERTIES` text (`name=value;name=value`, blanks around names and values ignored)
    /// as a dictionary; `nil` when a pair has no `=` or no name.
    public static func parseProperties(_ text: String) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in text.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                if pair.allSatisfy(\.isWhitespace) { continue }
                return nil
            }
            result[parts[0]] = parts[1]
        }
        return result
    }
}
