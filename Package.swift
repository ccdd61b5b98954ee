// swift-tools-version: 6.1
import PackageDescription

// Dependency arrows point one way:
// CRdKafka <- Kafka; Identity <- Contract; Identity <- Registry; Registry <- Store; Telemetry <- Worker;
// everything <- Worker <- Ops <- CommandSupport <- idverify (which only wires) and idverify-bench
// (benchmarks and load generators; the only user of CKafkaBench).
let package = Package(
    name: "tthc-identity-verifier",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "idverify", targets: ["idverify"]),
        .executable(name: "idverify-bench", targets: ["idverify-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // librdkafka, found through pkg-config.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // The only Swift code that touches librdkafka.
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // librdkafka's own C client, driven the same way, as the benchmark baseline.
        .target(
            name: "CKafkaBench",
            dependencies: ["CRdKafka"]
        ),
        // Identity rules: pure, no I/O.
        .target(
            name: "Identity",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The wire contract: requests, verdicts, dead letters, dossier events.
        .target(
            name: "Contract",
            dependencies: [
                "Identity",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The population registry: protocol, HTTP client, resilience.
        .target(
            name: "Registry",
            dependencies: [
                "Identity", "Contract",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // W3C trace context through the service: a propagating tracer and the log metadata it feeds.
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ]
        ),
        // The registry simulator (same HTTP API as the real registry).
        .target(
            name: "RegistrySimulator",
            dependencies: [
                "Identity",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // PostgreSQL: migrations, results, dossiers, outbox, parked checks, fleet quota, stats.
        .target(
            name: "Store",
            dependencies: [
                "Contract",
                "Identity",
                "Registry",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The pipeline that ties Kafka, the contract, the registry and the store together.
        .target(
            name: "Worker",
            dependencies: [
                "Kafka", "Identity", "Contract", "Registry", "Store", "Telemetry",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Operations: HTTP endpoints, metrics export, lag sampling.
        .target(
            name: "Ops",
            dependencies: [
                "Kafka", "Store", "Worker", "Registry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What both executables share: logging bootstrap, the throwaway PostgreSQL, sample requests.
        .target(
            name: "CommandSupport",
            dependencies: [
                "Contract", "Identity", "Ops", "RegistrySimulator", "Telemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .executableTarget(
            name: "idverify",
            dependencies: [
                "Kafka", "Identity", "Contract", "Registry", "RegistrySimulator", "Store", "Worker", "Ops",
                "Telemetry", "CommandSupport",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            // jemalloc instead of glibc's malloc: about 12 % less worker CPU per verdict, a little more
            // peak RSS (docs/benchmarks.md, "Allocator"). Debian: libjemalloc-dev (scripts/setup installs it).
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        // Benchmarks and load generators, out of the service executable (docs/benchmarks.md).
        .executableTarget(
            name: "idverify-bench",
            dependencies: [
                "Kafka", "CKafkaBench", "Identity", "Contract", "Registry", "RegistrySimulator", "Store", "Worker", "Ops",
                "CommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            // The service's allocator, so that `worker` measures what `serve` runs.
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka"]
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                "Identity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "ContractTests",
            dependencies: [
                "Contract", "Identity",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "RegistryTests",
            dependencies: [
                "Registry", "RegistrySimulator", "Store", "Identity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "OpsTests",
            dependencies: [
                "Ops", "Kafka", "Store", "Contract", "Registry", "RegistrySimulator", "Worker",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "Ops", "Kafka", "Contract", "Identity", "Store", "Registry", "RegistrySimulator", "Telemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Development convenience: `TTHC_TEST_TARGETS=KafkaTests,IdentityTests swift test`
// builds only those test targets (CI builds them all).
if let selected = Context.environment["TTHC_TEST_TARGETS"]?.split(separator: ",").map(String.init), !selected.isEmpty {
    package.targets.removeAll { $0.type == .test && !selected.contains($0.name) }
}
