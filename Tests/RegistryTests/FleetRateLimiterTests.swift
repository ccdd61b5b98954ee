import Foundation
import Logging
import PostgresNIO
import Registry
import RegistrySimulator
import Store
import Testing

extension RegistryIntegrationTests {
    /// The migration runner and the fleet-wide limiter, against a real PostgreSQL (`DATABASE_URL`).
    @Suite struct FleetRateLimiterTests {
        static func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
        }

        /// A number field of a `registry-load` JSON report.
        static func number(_ key: String, in report: String) -> Double? {
            guard let line = report.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            let limiter = object["limiter"] as? [String: Any]
            return (object[key] as? NSNumber ?? limiter?[key] as? NSNumber)?.doubleValue
        }

        @Test func migrationsApplyOnceUnderConcurrentStartsInOrder() async throws {
            let schema = "migrations_test_\(UInt32.random(in: 0...UInt32.max))"
            var configuration = try TestEnvironment.postgresConfiguration(url: try TestEnvironment.databaseURL())
            _ = try await TestEnvironment.withPostgres { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: TestEnvironment.logger)
            }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
            let client = PostgresClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }

                let first = [
                    Migration(version: 1, name: "first", statements: ["CREATE TABLE first_table (id integer)"]),
                    Migration(version: 2, name: "second", statements: [
                        "CREATE TABLE second_table (id integer)", "INSERT INTO second_table VALUES (1)",
                    ]),
                ]
                // Eight processes starting at once: each migration is applied exactly once.
                let applied = try await withThrowingTaskGroup(of: [Int].self) { starts in
                    for _ in 0..<8 {
                        starts.addTask { try await MigrationRunner(client: client, migrations: first, logger: TestEnvironment.logger).run() }
                    }
                    var all: [Int] = []
                    for try await versions in starts { all += versions }
                    return all
                }
                #expect(applied.sorted() == [1, 2])
                let rows = try await client.query("SELECT count(*)::bigint FROM second_table", logger: TestEnvironment.logger)
                for try await count in rows.decode(Int64.self) { #expect(count == 1) }

                // Appending a migration applies only the new one.
                let appended = first + [Migration(version: 3, name: "third", statements: ["CREATE TABLE third_table (id integer)"])]
                #expect(try await MigrationRunner(client: client, migrations: appended, logger: TestEnvironment.logger).run() == [3])
                #expect(try await MigrationRunner(client: client, migrations: appended, logger: TestEnvironment.logger).run() == [])

                // A failing migration leaves nothing behind.
                let broken = appended + [Migration(version: 4, name: "broken", statements: [
                    "CREATE TABLE fourth_table (id integer)", "THIS IS NOT SQL",
                ])]
                await #expect(throws: (any Error).self) {
                    try await MigrationRunner(client: client, migrations: broken, logger: TestEnvironment.logger).run()
                }
                let leftovers = try await client.query(
                    "SELECT count(*)::bigint FROM pg_tables WHERE schemaname = \(schema) AND tablename = 'fourth_table'",
                    logger: TestEnvironment.logger)
                for try await count in leftovers.decode(Int64.self) { #expect(count == 0) }
                let versions = try await client.query("SELECT version FROM schema_migrations ORDER BY version", logger: TestEnvironment.logger)
                var recorded: [Int32] = []
                for try await version in versions.decode(Int32.self) { recorded.append(version) }
                #expect(recorded == [1, 2, 3])

                // Versions out of order are refused before anything runs.
                #expect(throws: MigrationError.self) {
                    try MigrationRunner(client: client, migrations: [first[1], first[0]], logger: TestEnvironment.logger)
                }
                try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: TestEnvironment.logger)
            }
        }

        /// At a high limit a lease covers many slots: a burst of acquisitions costs a few round
        /// trips, not one per 32 calls (with 32-slot leases this burst needed at least 625).
        @Test func leasesScaleWithAHighLimit() async throws {
            let limit = 100_000
            let burst = 20_000
            try await TestEnvironment.withPostgres { postgres in
                try await MigrationRunner(client: postgres, logger: TestEnvironment.logger).run()
                let limiter = try FleetRateLimiter(
                    client: postgres, configuration: .init(rateLimit: .init(callsPerSecond: limit), quotaName: "test-\(UUID().uuidString)"),
                    logger: TestEnvironment.logger)
                #expect(limiter.maxSlotsPerLease > 1_000)
                let acquired = Locked(0)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<64 {
                        group.addTask {
                            while acquired.withLock({ n in
                                if n >= burst { return false }
                                n += 1
                                return true
                            }) {
                                _ = try await limiter.acquire()
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let statistics = limiter.statistics
                print("fleet limiter at \(limit)/s: \(burst) slots in \(statistics.leases) leases (\(statistics.slotsSkipped) skipped)")
                #expect(statistics.slotsUsed == burst)
                #expect(statistics.leases <= (burst + 127) / 128, "\(statistics.leases) lease round trips for \(burst) slots")
            }
        }

        /// At a high limit and a demand far below it most leased slots expire unused; the batch
        /// still does not shrink below half its ceiling, so leases stay few (halving per expired
        /// slot made them ~140 per second at 5,800 calls/s).
        @Test func sparseUseAtAHighLimitKeepsLeasesLarge() async throws {
            try await TestEnvironment.withPostgres { postgres in
                try await MigrationRunner(client: postgres, logger: TestEnvironment.logger).run()
                let limiter = try FleetRateLimiter(
                    client: postgres, configuration: .init(rateLimit: .init(callsPerSecond: 100_000), quotaName: "test-\(UUID().uuidString)"),
                    logger: TestEnvironment.logger)
                let start = ContinuousClock.now
                let end = start + .seconds(1)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<32 {
                        group.addTask {
                            while ContinuousClock.now < end {
                                _ = try await limiter.acquire()
                                try await Task.sleep(for: .milliseconds(10))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let elapsed = Self.milliseconds(ContinuousClock.now - start)
                let statistics = limiter.statistics
                print("fleet limiter at 100000/s, sparse: \(statistics.slotsUsed) used, \(statistics.slotsSkipped) skipped, \(statistics.leases) leases in \(Int(elapsed)) ms")
                // A lease spans at least ~15 ms of the schedule: at most ~67 per second, with room for a loaded machine.
                #expect(statistics.leases <= Int(elapsed / 15 * 1.5) + 10)
            }
        }

        /// The default batch: 32 at low limits, as before; scaled with the limit, within bounds, above.
        @Test func defaultBatchScalesWithTheLimit() async throws {
            try await TestEnvironment.withPostgres { postgres in
                func ceiling(_ limit: Int, maxBatch: Int? = nil) throws -> Int {
                    try FleetRateLimiter(
                        client: postgres, configuration: .init(rateLimit: .init(callsPerSecond: limit), maxBatch: maxBatch),
                        logger: TestEnvironment.logger
                    ).maxSlotsPerLease
                }
                let ceilings = try [ceiling(120), ceiling(1_000), ceiling(10_000), ceiling(500_000), ceiling(100_000, maxBatch: 32)]
                // 120/s: no more than the 250 ms ahead holds; 1,000/s: 32 as before; then an eighth of 250 ms (at 10,000/s
                // with the 20-ms margin, 2,452 slots / 8), up to 4,096.
                #expect(ceilings == [30, 32, 306, 4_096, 32])
                #expect(throws: RegistryConfigurationError.self) {
                    _ = try FleetRateLimiter(
                        client: postgres, configuration: .init(rateLimit: .init(callsPerSecond: 10), maxBatch: 0), logger: TestEnvironment.logger)
                }
            }
        }

        @Test func twoLimitersInOneProcessShareTheQuota() async throws {
            let limit = 120
            let quotaName = "test-\(UUID().uuidString)"
            let behaviour = SimulatorBehaviour(quota: limit)
            try await TestEnvironment.withPostgres { postgres in
                try await MigrationRunner(client: postgres, logger: TestEnvironment.logger).run()
                try await TestEnvironment.withSimulator(behaviour: behaviour) { simulator in
                    try await TestEnvironment.withTransport(for: simulator, concurrency: 16) { transport in
                        let limiters = try (0..<2).map { _ in
                            try FleetRateLimiter(
                                client: postgres,
                                configuration: .init(rateLimit: .init(callsPerSecond: limit), quotaName: quotaName),
                                logger: TestEnvironment.logger)
                        }
                        let clients = try limiters.map { limiter in
                            try ResilientRegistryClient(
                                transport: transport, limiter: limiter,
                                configuration: .init(scheduler: .init(maxConcurrentCalls: 8)), logger: TestEnvironment.logger)
                        }
                        defer { clients.forEach { $0.shutdown() } }
                        let queries = simulator.simulator.population.samples(count: 200).map(TestEnvironment.query)
                        let end = ContinuousClock.now + .seconds(4)
                        let snapshots = Locked<[SimulatorStatistics]>([])
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for worker in 0..<48 {
                                let client = clients[worker % 2]
                                group.addTask {
                                    var next = worker
                                    while ContinuousClock.now < end {
                                        _ = try? await client.verify(queries[next % queries.count], context: .init(agency: "A", deadline: end))
                                        next += 48
                                    }
                                }
                            }
                            group.addTask {
                                try await Task.sleep(for: .seconds(1))
                                snapshots.withLock { $0.append(simulator.simulator.statistics()) }
                                try await Task.sleep(for: .seconds(2.5))
                                snapshots.withLock { $0.append(simulator.simulator.statistics()) }
                            }
                            try await group.waitForAll()
                        }
                        let stats = simulator.simulator.statistics()
                        let steady = snapshots.value
                        let rate = RateLimitTests.rate(steady[0], steady[1])
                        let lateness = limiters.map { Self.milliseconds($0.statistics.maxWakeLateness) }.max() ?? 0
                        let stall = max(stats.maxSchedulingLagMs, lateness)
                        print("two fleet limiters, limit \(limit)/s: steady \(Int(rate))/s, most in one second \(stats.maxCallsInOneSecond), stall \(Int(stall)) ms")
                        #expect(limiters.allSatisfy { $0.statistics.slotsUsed > 0 })
                        TestEnvironment.expectTimely(stallMs: stall) {
                            #expect(stats.maxCallsInOneSecond <= limit)
                            #expect(stats.calls["verify"]?["429"] == nil)
                            #expect(rate >= 0.95 * Double(limit), "used \(rate) of \(limit) calls per second")
                        }
                    }
                }
            }
        }

        /// Three worker processes (`idverify-bench registry-load`), one simulator process, one quota in
        /// PostgreSQL: the simulator never sees more than the limit in any one-second window, and
        /// the fleet uses at least 95 % of it.
        @Test func threeProcessesShareTheFleetLimit() async throws {
            let limit = 300
            let databaseURL = try TestEnvironment.databaseURL()
            let binary = try TestEnvironment.idverifyBinary(named: "idverify-bench")
            let simulator = try await SimulatorProcess.start(extraArguments: ["--quota", String(limit)])
            do {
                let quotaName = "test-\(UUID().uuidString)"
                // Above the normal priority too: the guarantee holds for stalls shorter than the
                // margin (20 ms), and a machine shared with parallel builds stalls longer.
                let loaders = try (0..<3).map { index in
                    try ChildProcess.prioritized(
                        [
                            binary.path, "registry-load", "--url", simulator.baseURL, "--token", simulator.token,
                            "--database-url", databaseURL, "--rate", String(limit), "--quota-name", quotaName,
                            "--seconds", "9", "--concurrency", "16", "--seed", "42", "--population", "100000",
                            "--agency", "AGENCY-\(index)",
                        ],
                        niceness: -5)
                }
                // Measure the fleet's rate while all three run (they start within about a second).
                try await Task.sleep(for: .seconds(3))
                let from = try await simulator.statistics()
                try await Task.sleep(for: .seconds(4))
                let to = try await simulator.statistics()
                var reports: [String] = []
                for loader in loaders {
                    let result = await loader.wait()
                    #expect(result.status == 0, "registry-load exited with \(result.status): \(result.output)")
                    reports.append(result.output)
                }
                let stats = try await simulator.statistics()
                let rate = RateLimitTests.rate(from, to)
                var stall = stats.maxSchedulingLagMs
                for report in reports {
                    let lateness = try #require(Self.number("maxWakeLatenessMs", in: report), "no limiter report: \(report)")
                    stall = max(stall, lateness)
                    #expect((Self.number("slotsUsed", in: report) ?? 0) > 0)
                }
                print("fleet of 3 processes, limit \(limit)/s: steady \(Int(rate))/s, most in one second \(stats.maxCallsInOneSecond), stall \(Int(stall)) ms")
                TestEnvironment.expectTimely(stallMs: stall) {
                    #expect(stats.maxCallsInOneSecond <= limit, "the simulator saw \(stats.maxCallsInOneSecond) calls in one second")
                    #expect(stats.calls["verify"]?["429"] == nil, "the simulator's quota refused calls: \(stats.calls)")
                    #expect(rate >= 0.95 * Double(limit), "the fleet used \(rate) of \(limit) calls per second")
                }
                await simulator.stop()
            } catch {
                await simulator.stop()
                throw error
            }
        }
    }
}
