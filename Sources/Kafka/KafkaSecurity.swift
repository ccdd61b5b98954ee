/// How a Kafka client encrypts and authenticates its broker connections: one value, given to every
/// consumer and producer a process builds (through ``KafkaClientConfiguration/security``), so that
/// a producer never talks to a `SASL_SSL` cluster with less than its consumer has.
///
/// Turned into librdkafka's `security.protocol`, `sasl.mechanism`, `sasl.username`,
/// `sasl.password` and `ssl.ca.location`. ``KafkaClientConfiguration/properties`` are applied after
/// these, so an explicit property wins.
public struct KafkaSecurity: Sendable, Hashable {
    /// `security.protocol`. Set by `KAFKA_SECURITY_PROTOCOL`. Default: ``SecurityProtocol/plaintext``.
    public var securityProtocol: SecurityProtocol = .plaintext
    /// `sasl.mechanism`, for the `sasl_*` protocols. Set by `KAFKA_SASL_MECHANISM`. Default: `PLAIN`
    /// when a SASL protocol is chosen.
    public var saslMechanism: SASLMechanism?
    /// `sasl.username`. Set by `KAFKA_SASL_USERNAME`. Required with a SASL protocol.
    public var saslUsername: String?
    /// `sasl.password`. Set by `KAFKA_SASL_PASSWORD` or `KAFKA_SASL_PASSWORD_FILE`. Required with a
    /// SASL protocol. Never logged.
    public var saslPassword: String?
    /// `ssl.ca.location`: a PEM file of the CA(s) that signed the brokers' certificates. Set by
    /// `KAFKA_SSL_CA_LOCATION`. Default: the system's trust store.
    public var sslCALocation: String?

    public init(
        securityProtocol: SecurityProtocol = .plaintext, saslMechanism: SASLMechanism? = nil, saslUsername: String? = nil,
        saslPassword: String? = nil, sslCALocation: String? = nil
    ) {
        self.securityProtocol = securityProtocol
        self.saslMechanism = saslMechanism
        self.saslUsername = saslUsername
        self.saslPassword = saslPassword
        self.sslCALocation = sslCALocation
    }

    /// `security.protocol`.
    public enum SecurityProtocol: String, Sendable, Hashable, CaseIterable {
        case plaintext
        case ssl
        case saslPlaintext = "sasl_plaintext"
        case saslSSL = "sasl_ssl"

        /// Whether the connection authenticates with SASL.
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
        /// Whether the connection is encrypted with TLS.
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
    }

    /// `sasl.mechanism`.
    public enum SASLMechanism: String, Sendable, Hashable, CaseIterable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    /// What cannot work, naming the environment variable; `nil` when the value is usable.
    public var problem: (setting: String, message: String)? {
        if self.securityProtocol.usesSASL {
            if (self.saslUsername ?? "").isEmpty {
                return ("KAFKA_SASL_USERNAME", "is required with KAFKA_SECURITY_PROTOCOL=\(self.securityProtocol.rawValue)")
            }
            if (self.saslPassword ?? "").isEmpty {
                return (
                    "KAFKA_SASL_PASSWORD",
                    "(or KAFKA_SASL_PASSWORD_FILE) is required with KAFKA_SECURITY_PROTOCOL=\(self.securityProtocol.rawValue)"
                )
            }
        } else if self.saslMechanism != nil || self.saslUsername != nil || self.saslPassword != nil {
            return (
                "KAFKA_SECURITY_PROTOCOL",
                "must be sasl_plaintext or sasl_ssl when SASL settings are given (it is \(self.securityProtocol.rawValue))"
            )
        }
        if self.sslCALocation != nil && !self.securityProtocol.usesTLS {
            return (
                "KAFKA_SECURITY_PROTOCOL",
                "must be ssl or sasl_ssl when KAFKA_SSL_CA_LOCATION is given (it is \(self.securityProtocol.rawValue))"
            )
        }
        return nil
    }

    /// The librdkafka properties, in a fixed order. Plaintext without SASL adds only
    /// `security.protocol=plaintext`.
    var rdkafkaProperties: [(String, String)] {
        var list: [(String, String)] = [("security.protocol", self.securityProtocol.rawValue)]
        if self.securityProtocol.usesSASL {
            list.append(("sasl.mechanism", (self.saslMechanism ?? .plain).rawValue))
            if let username = self.saslUsername { list.append(("sasl.username", username)) }
            if let password = self.saslPassword { list.append(("sasl.password", password)) }
        }
        if let ca = self.sslCALocation { list.append(("ssl.ca.location", ca)) }
        return list
    }
}

extension KafkaSecurity: CustomStringConvertible {
    /// Protocol, mechanism and CA file; the username and password are never printed.
    public var description: String {
        var parts = ["protocol=\(self.securityProtocol.rawValue)"]
        if self.securityProtocol.usesSASL { parts.append("mechanism=\((self.saslMechanism ?? .plain).rawValue)") }
        if let ca = self.sslCALocation { parts.append("ca=\(ca)") }
        return "KafkaSecurity(\(parts.joined(separator: ", ")))"
    }
}
