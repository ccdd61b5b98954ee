import Contract
import Foundation
import Identity
import Kafka
import PostgresNIO
import Registry
import Store

/// The service's settings (contract section 7), read from environment
/// variables. A missing or malformed setting stops start-up with an error
/// naming the variable.
public struct ServiceSettings: Sendable {
    /// `KAFKA_BROKERS`: comma-separated `host:port`. Required.
    public var kafkaBrokers: [String]
    /// `KAFKA_GROUP_ID`. Default: `tthc-identity-verifier`.
    public var kafkaGroupID = "tthc-identity-verifier"
    /// `KAFKA_PROPERTIES`: extra librdkafka properties, `name=value;name=value`, for every consumer
    /// and producer; `producer.NAME` / `consumer.NAME` for one kind only. They win over
    /// ``kafkaSecurity`` (precedence: ``KafkaConnectionSettings``). Default: none.
    public var kafkaProperties: [String: String] = [:]
    /// `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`,
    /// `KAFKA_SASL_PASSWORD` (or `_FILE`), `KAFKA_SSL_CA_LOCATION`. Default: plaintext.
    public var kafkaSecurity = KafkaSecurity()
    /// Brokers, security and properties as every Kafka client of the process takes them.
    public var kafkaConnection: KafkaConnectionSettings {
        KafkaConnectionSettings(bootstrapServers: kafkaBrokers, security: kafkaSecurity, properties: kafkaProperties)
    }
    /// `DATABASE_URL`: `postgres://user:password@host:port/database?sslmode=…&sslrootcert=…&pool_size=…`,
    /// read by ``DatabaseURL`` (libpq's `sslmode`, default `prefer`; pool size default 20). Required.
    public var databaseURL: String
    /// `DATABASE_PASSWORD` or `DATABASE_PASSWORD_FILE`: replaces the password in ``databaseURL``.
    /// Default: none (the URL's).
    public var databasePassword: String?
    /// ``databaseURL`` and ``databasePassword`` as a PostgreSQL client configuration.
    public func postgresConfiguration() throws(DatabaseURLError) -> PostgresClient.Configuration {
        try DatabaseURL.parse(self.databaseURL, password: self.databasePassword)
    }
    /// `REGISTRY_URL`: `https://`; `http://` only for a loopback host. Required.
    public var registryURL: String
    /// `REGISTRY_CA_FILE`: PEM CA(s) for the registry's certificate. Default: the system's trust store.
    public var registryCAFile: String?
    /// `REGISTRY_CLIENT_CERT_FILE` and `REGISTRY_CLIENT_KEY_FILE`: client certificate and key (PEM)
    /// for mutual TLS with the registry, both or neither. Default: none.
    public var registryClientCertFile: String?
    public var registryClientKeyFile: String?
    /// The registry transport's settings: URL, token (and its file), TLS files, concurrency.
    public var registryTransport: HTTPRegistryClient.Configuration {
        var configuration = HTTPRegistryClient.Configuration(
            baseURL: registryURL, token: registryToken, concurrency: registryCallsCeiling)
        configuration.tokenFile = registryTokenFile
        configuration.caFile = registryCAFile
        configuration.clientCertificateFile = registryClientCertFile
        configuration.clientKeyFile = registryClientKeyFile
        configuration.connections = registryHTTPConnections
        configuration.pipelining = registryHTTPPipelining
        return configuration
    }
    /// `REGISTRY_TOKEN`, or the content of `REGISTRY_TOKEN_FILE`. Required.
    public var registryToken: String
    /// `REGISTRY_TOKEN_FILE`: where the token was read from. The registry client reads it again
    /// when the file changes (a rotated Kubernetes secret), without a restart. Default: none.
    public var registryTokenFile: String?
    /// `REGISTRY_RATE_LIMIT`: calls per second for the whole fleet. Default: 100.
    public var registryRateLimit = 100
    /// `REGISTRY_LIMITER`: `fleet` (shared through PostgreSQL) or `local` (this process only). Default: `fleet`.
    public var registryLimiter = "fleet"
    /// `REGISTRY_CONCURRENCY`: calls in flight to the registry, fixed (and HTTP connections at
    /// most). Default: none: calls in flight adapt to the registry's latency, from 128 (enough for
    /// 300/s × 200 ms with room, which 64 was not always: docs/benchmarks.md) up to
    /// ``registryCallsCeiling``, growing while they hold the rate below the quota and answers do not
    /// slow down (docs/registry.md "Calls in flight").
    public var registryConcurrency: Int?
    public static let defaultRegistryConcurrency = 128
    /// The most registry calls in flight: `REGISTRY_CONCURRENCY`, or, adapting, the quota of one
    /// call timeout (`REGISTRY_RATE_LIMIT` × `REGISTRY_TIMEOUT_MS`: a registry answering within
    /// the timeout can then be used up to its limit), at least 128, at most 4,096, and at most the
    /// open-file limit less 256 (each call may need a connection, and the process needs
    /// descriptors for the rest).
    public var registryCallsCeiling: Int {
        if let registryConcurrency { return registryConcurrency }
        let files = Self.openFileLimit.map { max(Self.defaultRegistryConcurrency, $0 - 256) } ?? 4_096
        let quota = (Double(registryRateLimit) * registryClient.callTimeout.seconds).rounded(.up)
        return min(4_096, files, max(Self.defaultRegistryConcurrency, Int(min(quota, 4_096))))
    }

    /// The process's soft limit on open files, `nil` if unknown or unlimited.
    static var openFileLimit: Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int.max) else { return nil }
        return Int(clamping: limit.rlim_cur)
    }
    /// `REGISTRY_HTTP_CONNECTIONS`: keep-alive connections to the registry at most, opened only
    /// when all open ones are busy. Default: none (= ``registryCallsCeiling``). docs/registry.md.
    public var registryHTTPConnections: Int?
    /// `REGISTRY_HTTP_PIPELINING`: requests in flight per registry connection (HTTP/1.1 pipelining,
    /// used only once the connection bound is reached). Default: 1 (off). docs/registry.md.
    public var registryHTTPPipelining = 1
    /// `REGISTRY_RATE_MARGIN_MS`: slack kept under the rate limit for clock and scheduling
    /// error. Default: 20 ms (98 % of the limit at best; docs/registry.md).
    public var registryRateMargin: Duration = .milliseconds(20)
    /// Timeout, retries, breaker and agency weights: `REGISTRY_AGENCY_WEIGHTS` (every agency 1),
    /// `REGISTRY_TIMEOUT_MS` (5 s), `REGISTRY_MAX_ATTEMPTS` (4),
    /// `REGISTRY_BACKOFF_INITIAL_MS` (100), `REGISTRY_BACKOFF_MAX_MS` (5,000),
    /// `REGISTRY_BREAKER_FAILURES` (5), `REGISTRY_BREAKER_OPEN_MS` (5,000). Its scheduler's
    /// calls in flight follow `registryConcurrency`, or adapt up to ``registryCallsCeiling`` (the
    /// runtime sets them).
    public var registryClient = ResilientRegistryClient.Configuration()
    /// `SUBJECT_REF_KEY` (or `SUBJECT_REF_KEY_FILE`): base64 of at least 16 bytes. Required.
    public var subjectRefKey: [UInt8]
    /// `SUBJECT_REF_KEY_PREVIOUS`: older subject keys, comma-separated, each as `SUBJECT_REF_KEY`.
    /// Checks parked under one of them still open; list a key until
    /// `identity_parked_checks_by_key{key_id=...}` shows none left. Default: none.
    public var previousSubjectRefKeys: [[UInt8]] = []
    /// Retention: `RETENTION_RESULTS_DAYS`, `RETENTION_DOSSIER_EVENTS_DAYS`, `RETENTION_AUDIT_DAYS`.
    public var retention = RetentionConfiguration()
    /// `OPS_PORT`. Default: 8080.
    public var opsPort = 8080
    /// The pipeline's settings (`TOPIC_PREFIX`, deadlines, in-flight bound, autofill fields, policy).
    public var worker = WorkerConfiguration()

    public init(kafkaBrokers: [String], databaseURL: String, registryURL: String, registryToken: String, subjectRefKey: [UInt8]) {
        self.kafkaBrokers = kafkaBrokers
        self.databaseURL = databaseURL
        self.registryURL = registryURL
        self.registryToken = registryToken
        self.subjectRefKey = subjectRefKey
    }

    /// Reads every setting; the error names the first one that is missing or malformed.
    public static func fromEnvironment(_ environment: [String: String]) throws(SettingsError) -> ServiceSettings {
        func required(_ name: String) throws(SettingsError) -> String {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw SettingsError(setting: name, problem: "is required")
            }
            return value
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(SettingsError) -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw SettingsError(setting: name, problem: "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        func flag(_ name: String) throws(SettingsError) -> Bool? {
            guard let text = environment[name]?.lowercased(), !text.isEmpty else { return nil }
            switch text {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw SettingsError(setting: name, problem: "must be true or false")
            }
        }

        let brokers = try required("KAFKA_BROKERS").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard brokers.allSatisfy({ $0.contains(":") && !$0.hasPrefix(":") }) else {
            throw SettingsError(setting: "KAFKA_BROKERS", problem: "must be comma-separated host:port pairs")
        }
        let databaseURL = try required("DATABASE_URL")
        let databasePassword = try EnvironmentSecret.value("DATABASE_PASSWORD", environment: environment)
        do {
            _ = try DatabaseURL(parsing: databaseURL, password: databasePassword).configuration()
        } catch {
            throw SettingsError(setting: error.setting, problem: error.problem)
        }
        let registryURL = try required("REGISTRY_URL")
        guard let url = URL(string: registryURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw SettingsError(setting: "REGISTRY_URL", problem: "must be an http:// or https:// URL")
        }
        func secret(_ name: String) throws(SettingsError) -> String {
            guard let value = try EnvironmentSecret.value(name, environment: environment) else {
                throw SettingsError(setting: name, problem: "(or \(name)_FILE) is required")
            }
            return value.trimmingCharacters(in: .whitespaces)
        }
        let token = try secret("REGISTRY_TOKEN")
        let keyText = try secret("SUBJECT_REF_KEY")
        let keyName = (environment["SUBJECT_REF_KEY_FILE"] ?? "").isEmpty ? "SUBJECT_REF_KEY" : "SUBJECT_REF_KEY_FILE"
        guard let key = Data(base64Encoded: keyText), key.count >= 16 else {
            throw SettingsError(setting: keyName, problem: "must be base64 of at least 16 bytes")
        }
        var settings = ServiceSettings(
            kafkaBrokers: brokers, databaseURL: databaseURL, registryURL: registryURL, registryToken: token,
            subjectRefKey: Array(key))
        settings.databasePassword = databasePassword
        if let path = environment["REGISTRY_TOKEN_FILE"], !path.isEmpty { settings.registryTokenFile = path }
        func path(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        settings.registryCAFile = path("REGISTRY_CA_FILE")
        settings.registryClientCertFile = path("REGISTRY_CLIENT_CERT_FILE")
        settings.registryClientKeyFile = path("REGISTRY_CLIENT_KEY_FILE")
        if let previous = environment["SUBJECT_REF_KEY_PREVIOUS"]?.trimmingCharacters(in: .whitespaces), !previous.isEmpty {
            for item in previous.split(separator: ",", omittingEmptySubsequences: false) {
                guard let old = Data(base64Encoded: item.trimmingCharacters(in: .whitespaces)), old.count >= 16 else {
                    throw SettingsError(setting: "SUBJECT_REF_KEY_PREVIOUS", problem: "must be comma-separated base64 keys of at least 16 bytes each")
                }
                settings.previousSubjectRefKeys.append(Array(old))
            }
        }
        if let days = try integer("RETENTION_RESULTS_DAYS", 0...36_500) { settings.retention.resultsDays = days }
        if let days = try integer("RETENTION_DOSSIER_EVENTS_DAYS", 0...36_500) { settings.retention.dossierEventsDays = days }
        if let days = try integer("RETENTION_AUDIT_DAYS", 0...36_500) { settings.retention.auditDays = days }
        if let group = environment["KAFKA_GROUP_ID"], !group.isEmpty { settings.kafkaGroupID = group }
        if let properties = environment["KAFKA_PROPERTIES"], !properties.isEmpty {
            guard let parsed = KafkaConnectionSettings.parseProperties(properties) else {
                throw SettingsError(setting: "KAFKA_PROPERTIES", problem: "must be name=value pairs separated by ';'")
            }
            settings.kafkaProperties = parsed
        }
        settings.kafkaSecurity = try KafkaSecurity.fromEnvironment(environment)
        if let prefix = environment["TOPIC_PREFIX"] { settings.worker.topics = Topics(prefix: prefix) }
        if let limit = try integer("REGISTRY_RATE_LIMIT", 1...100_000) { settings.registryRateLimit = limit }
        if let limiter = environment["REGISTRY_LIMITER"], !limiter.isEmpty {
            guard ["fleet", "local"].contains(limiter) else {
                throw SettingsError(setting: "REGISTRY_LIMITER", problem: "must be fleet or local")
            }
            settings.registryLimiter = limiter
        }
        if let concurrency = try integer("REGISTRY_CONCURRENCY", 1...4_096) { settings.registryConcurrency = concurrency }
        if let n = try integer("REGISTRY_HTTP_CONNECTIONS", 1...4_096) { settings.registryHTTPConnections = n }
        if let n = try integer("REGISTRY_HTTP_PIPELINING", 1...HTTPRegistryClient.Configuration.maxPipelining) {
            settings.registryHTTPPipelining = n
        }
        if let ms = try integer("REGISTRY_RATE_MARGIN_MS", 1...999) { settings.registryRateMargin = .milliseconds(ms) }
        if let weights = environment["REGISTRY_AGENCY_WEIGHTS"], !weights.isEmpty {
            guard let parsed = Self.parseAgencyWeights(weights) else {
                throw SettingsError(
                    setting: "REGISTRY_AGENCY_WEIGHTS", problem: "must be agency=weight pairs separated by ',', each weight a whole number in 1...1000")
            }
            settings.registryClient.scheduler.weights = parsed
        }
        if let ms = try integer("REGISTRY_TIMEOUT_MS", 1...600_000) { settings.registryClient.callTimeout = .milliseconds(ms) }
        if let n = try integer("REGISTRY_MAX_ATTEMPTS", 1...20) { settings.registryClient.retry.maxAttempts = n }
        if let ms = try integer("REGISTRY_BACKOFF_INITIAL_MS", 1...600_000) { settings.registryClient.retry.initialBackoff = .milliseconds(ms) }
        if let ms = try integer("REGISTRY_BACKOFF_MAX_MS", 1...3_600_000) { settings.registryClient.retry.maxBackoff = .milliseconds(ms) }
        if settings.registryClient.retry.maxBackoff < settings.registryClient.retry.initialBackoff {
            throw SettingsError(setting: "REGISTRY_BACKOFF_MAX_MS", problem: "must not be below REGISTRY_BACKOFF_INITIAL_MS")
        }
        if let n = try integer("REGISTRY_BREAKER_FAILURES", 1...10_000) { settings.registryClient.circuitBreaker.failureThreshold = n }
        if let ms = try integer("REGISTRY_BREAKER_OPEN_MS", 1...3_600_000) { settings.registryClient.circuitBreaker.openDuration = .milliseconds(ms) }
        if let port = try integer("OPS_PORT", 0...65_535) { settings.opsPort = port }
        if let n = try integer("DEADLINE_COUNTER_SECONDS", 1...86_400 * 7) { settings.worker.deadlines[.counter] = .seconds(n) }
        if let n = try integer("DEADLINE_REGISTRATION_SECONDS", 1...86_400 * 7) { settings.worker.deadlines[.registration] = .seconds(n) }
        if let n = try integer("DEADLINE_SUBMISSION_SECONDS", 1...86_400 * 7) { settings.worker.deadlines[.submission] = .seconds(n) }
        if let n = try integer("ANSWER_REUSE_VERIFIED_SECONDS", 0...86_400 * 30) { settings.worker.answerReuseVerified = .seconds(n) }
        if let n = try integer("ANSWER_REUSE_MISMATCH_SECONDS", 0...86_400 * 30) { settings.worker.answerReuseMismatch = .seconds(n) }
        if let n = try integer("WORKER_MAX_IN_FLIGHT", 1...1_000_000) { settings.worker.maxInFlight = n }
        if let ms = try integer("GROUP_COMMIT_INTERVAL_MS", 0...10_000) { settings.worker.groupCommitInterval = .milliseconds(ms) }
        if let fields = environment["AUTOFILL_FIELDS"], !fields.isEmpty {
            switch AutofillField.parseList(fields) {
            case .success(let set): settings.worker.autofillFields = set
            case .failure(let error): throw SettingsError(setting: "AUTOFILL_FIELDS", problem: "\(error)")
            }
        }
        do {
            // https except on loopback, readable TLS and token files, PEM that parses.
            try settings.registryTransport.validate()
            _ = try settings.registryTransport.tlsConfiguration()
        } catch {
            let text = (error as? RegistryConfigurationError)?.message ?? "REGISTRY_URL \(error)"
            let setting = text.split(separator: " ").first.map(String.init) ?? "REGISTRY_URL"
            throw SettingsError(setting: setting, problem: String(text.dropFirst(setting.count + 1)))
        }
        if let allow = try flag("ALLOW_SINGLE_WORD_NAMES") { settings.worker.identityPolicy.allowSingleWordNames = allow }
        if let warn = try flag("BIRTH_YEAR_MISMATCH_AS_WARNING") { settings.worker.identityPolicy.birthYearMismatchIsWarning = warn }
        return settings
    }
}

extension ServiceSettings {
    /// `REGISTRY_AGENCY_WEIGHTS`: `agency=weight,agency=weight` (weights 1...1000, every other
    /// agency 1), or `nil` when malformed.
    static func parseAgencyWeights(_ text: String) -> [String: Int]? {
        var weights: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let agency = parts[0].trimmingCharacters(in: .whitespaces)
            guard !agency.isEmpty, weights[agency] == nil, let weight = Int(parts[1].trimmingCharacters(in: .whitespaces)),
                (1...1_000).contains(weight)
            else { return nil }
            weights[agency] = weight
        }
        return weights.isEmpty ? nil : weights
    }
}

/// A setting that stops start-up. The description names the variable.
public struct SettingsError: Error, Sendable, CustomStringConvertible {
    public var setting: String
    public var problem: String
    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }
    public var description: String { "configuration error: \(setting) \(problem)" }
}
