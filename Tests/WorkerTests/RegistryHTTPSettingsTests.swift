import Registry
import Testing
import Worker

/// `REGISTRY_HTTP_CONNECTIONS` and `REGISTRY_HTTP_PIPELINING` (the NIO registry transport, issue 12).
@Suite("Registry HTTP transport settings")
struct RegistryHTTPSettingsTests {
    let complete = [
        "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==",
    ]

    @Test("defaults: connections follow REGISTRY_CONCURRENCY, no pipelining; both are read")
    func read() throws {
        let defaults = try ServiceSettings.fromEnvironment(complete.merging(["REGISTRY_CONCURRENCY": "64"]) { $1 })
        #expect(defaults.registryTransport.maxConnections == 64)
        #expect(defaults.registryTransport.pipelining == 1)

        let settings = try ServiceSettings.fromEnvironment(
            complete.merging(["REGISTRY_HTTP_CONNECTIONS": "8", "REGISTRY_HTTP_PIPELINING": "16"]) { $1 })
        #expect(settings.registryTransport.maxConnections == 8)
        #expect(settings.registryTransport.pipelining == 16)
        try settings.registryTransport.validate()
    }

    @Test(
        "a malformed transport setting stops start-up naming it",
        arguments: [
            ("REGISTRY_HTTP_CONNECTIONS", "0"), ("REGISTRY_HTTP_CONNECTIONS", "many"), ("REGISTRY_HTTP_PIPELINING", "0"),
            ("REGISTRY_HTTP_PIPELINING", "129"),
        ])
    func malformed(_ name: String, _ value: String) {
        var environment = complete
        environment[name] = value
        let error = #expect(throws: SettingsError.self) { try ServiceSettings.fromEnvironment(environment) }
        #expect(error?.setting == name)
    }
}
