import Foundation
import Logging
import Registry
import Testing
import Worker

@Suite("Service settings from the environment")
struct ServiceSettingsTests {
    let complete = [
        "KAFKA_BROKERS": "127.0.0.1:9092", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REGISTRY_URL": "http://127.0.0.1:8089", "REGISTRY_TOKEN": "t", "SUBJECT_REF_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==",
    ]

    @Test("registry timeout, retries, backoff, breaker and rate margin are read, with documented defaults")
    func registrySettings() throws {
        let defaults = try ServiceSettings.fromEnvironment(complete)
        #expect(defaults.registryClient == ResilientRegistryClient.Configuration())
        #expect(defaults.registryRateMargin == .milliseconds(20))

        let settings = try ServiceSettings.fromEnvironment(
            complete.merging([
                "REGISTRY_TIMEOUT_MS": "1500", "REGISTRY_MAX_ATTEMPTS": "2", "REGISTRY_BACKOFF_INITIAL_MS": "50",
                "REGISTRY_BACKOFF_MAX_MS": "800", "REGISTRY_BREAKER_FAILURES": "9", "REGISTRY_BREAKER_OPEN_MS": "12000",
                "REGISTRY_RATE_MARGIN_MS": "60", "REGISTRY_CONCURRENCY": "16",
            ]) { $1 })
        #expect(settings.registryClient.callTimeout == .milliseconds(1500))
        #expect(settings.registryClient.retry.maxAttempts == 2)
        #expect(settings.registryClient.retry.initialBackoff == .milliseconds(50))
        #expect(settings.registryClient.retry.maxBackoff == .milliseconds(800))
        #expect(settings.registryClient.circuitBreaker.failureThreshold == 9)
        #expect(settings.registryClient.circuitBreaker.openDuration == .seconds(12))
        #expect(settings.registryRateMargin == .milliseconds(60))
        #expect(settings.registryConcurrency == 16)
    }

    @Test(
        "a malformed registry setting is named",
        arguments: [
            ("REGISTRY_TIMEOUT_MS", "0"), ("REGISTRY_MAX_ATTEMPTS", "many"), ("REGISTRY_BACKOFF_INITIAL_MS", "-1"),
            ("REGISTRY_BACKOFF_MAX_MS", "10"), ("REGISTRY_BREAKER_FAILURES", "0"), ("REGISTRY_BREAKER_OPEN_MS", "x"),
            ("REGISTRY_RATE_MARGIN_MS", "1000"),
        ])
    func malformed(_ name: String, _ value: String) {
        var environment = complete
        environment[name] = value
        #expect(performing: { try ServiceSettings.fromEnvironment(environment) }, throws: { error in
            (error as? SettingsError)?.setting == name
        })
    }

    @Test("answer reuse expiries: 24 h and 5 min by default, 0 turns one off, a bad value is named")
    func answerReuse() throws {
        let defaults = try ServiceSettings.fromEnvironment(complete)
        #expect(defaults.worker.answerReuseVerified == .seconds(86_400))
        #expect(defaults.worker.answerReuseMismatch == .seconds(300))
        let settings = try ServiceSettings.fromEnvironment(
            complete.merging(["ANSWER_REUSE_VERIFIED_SECONDS": "0", "ANSWER_REUSE_MISMATCH_SECONDS": "60"]) { $1 })
        #expect(settings.worker.answerReuseVerified == .zero)
        #expect(settings.worker.answerReuseMismatch == .seconds(60))
        for (name, value) in [("ANSWER_REUSE_VERIFIED_SECONDS", "-1"), ("ANSWER_REUSE_MISMATCH_SECONDS", "soon")] {
            #expect(performing: { try ServiceSettings.fromEnvironment(complete.merging([name: value]) { $1 }) }, throws: { error in
                (error as? SettingsError)?.setting == name
            })
        }
    }

    @Test("REGISTRY_AGENCY_WEIGHTS sets the agencies' shares; a malformed value is named")
    func agencyWeights() throws {
        #expect(try ServiceSettings.fromEnvironment(complete).registryClient.scheduler.weights.isEmpty)
        let settings = try ServiceSettings.fromEnvironment(
            complete.merging(["REGISTRY_AGENCY_WEIGHTS": "000.00.01.H01=2, 000.00.02.H02=1"]) { $1 })
        #expect(settings.registryClient.scheduler.weights == ["000.00.01.H01": 2, "000.00.02.H02": 1])
        for bad in ["A", "A=0", "A=x", "=2", "A=2,A=3", "A=1001"] {
            #expect(performing: { try ServiceSettings.fromEnvironment(complete.merging(["REGISTRY_AGENCY_WEIGHTS": bad]) { $1 }) }, throws: { error in
                (error as? SettingsError)?.setting == "REGISTRY_AGENCY_WEIGHTS"
            })
        }
    }

    @Test("without REGISTRY_CONCURRENCY calls in flight adapt from 128 up to a call timeout's quota (128…4,096); with it they are fixed")
    func callsInFlightFollowTheQuota() async throws {
        var logger = Logger(label: "settings-test")
        logger.logLevel = .critical
        // The default call timeout is 5 s: 20/s × 5 s = 100 (128 at least), 100/s × 5 s = 500.
        for (limit, timeout, ceiling) in [(20, 5_000, 128), (100, 5_000, 500), (300, 2_000, 600), (2_000, 5_000, 4_096), (100_000, 5_000, 4_096)] {
            var settings = try ServiceSettings.fromEnvironment(
                complete.merging(["REGISTRY_RATE_LIMIT": "\(limit)", "REGISTRY_TIMEOUT_MS": "\(timeout)", "REGISTRY_LIMITER": "local"]) { $1 })
            #expect(settings.registryConcurrency == nil)
            #expect(settings.registryCallsCeiling == ceiling)
            settings.kafkaBrokers = ["127.0.0.1:1"]
            let runtime = try WorkerRuntime(settings: settings, logger: logger)
            #expect(runtime.registry.configuration.scheduler.maxConcurrentCalls == ceiling)
            #expect(runtime.registry.configuration.scheduler.adaptiveFrom == 128)
            #expect(runtime.transport.configuration.concurrency == ceiling, "connections at most: opened only when all are busy")
            await runtime.consumer.close()
            await runtime.shutdown()
        }
        let fixed = try ServiceSettings.fromEnvironment(complete.merging(["REGISTRY_RATE_LIMIT": "2000", "REGISTRY_CONCURRENCY": "64"]) { $1 })
        #expect(fixed.registryCallsCeiling == 64)
    }

    @Test("the runtime builds its registry client from the settings")
    func runtimeUsesSettings() async throws {
        var settings = try ServiceSettings.fromEnvironment(
            complete.merging(["REGISTRY_TIMEOUT_MS": "1500", "REGISTRY_CONCURRENCY": "16", "REGISTRY_LIMITER": "local"]) { $1 })
        settings.kafkaBrokers = ["127.0.0.1:1"]
        var logger = Logger(label: "settings-test")
        logger.logLevel = .critical
        let runtime = try WorkerRuntime(settings: settings, logger: logger)
        #expect(runtime.registry.configuration.callTimeout == .milliseconds(1500))
        #expect(runtime.registry.configuration.scheduler.maxConcurrentCalls == 16)
        #expect(runtime.registry.configuration.scheduler.adaptiveFrom == nil, "REGISTRY_CONCURRENCY fixes calls in flight")
        #expect(runtime.transport.configuration.concurrency == 16)
        await runtime.consumer.close()
        await runtime.shutdown()
    }
}
