import ArgumentParser
import CommandSupport
import Contract
import Foundation
import Logging
import Ops
import PostgresNIO
import Store

/// `idverify-bench stats`: the processing board at a province's scale. Loads a year of dossier
/// events into a throwaway database (`bench_stats_<random>` on the `DATABASE_URL` server, or a
/// local cluster; dropped at the end unless `--keep`), then times the board's queries.
///
/// The bulk load writes `dossier_events` with one `INSERT … SELECT generate_series` (indexes as
/// migrated) and builds the rollup with `dossier_rollup_rebuild()`, the function migration 6 runs
/// as its backfill; it then sends batches through the real store path (`DossierStatistics.record`,
/// new dossiers and re-closings of loaded ones in a later month) and checks that the rollup still
/// equals a recount from the raw events.
struct BenchStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Time /v1/stats and the board on a province's year of dossier events.")

    @Option(help: "Dossiers to load (two events each: received with a due date, then resolved or returned).")
    var dossiers: Int = 1_000_000
    @Option(help: "Agencies the dossiers spread over.") var agencies: Int = 40
    @Option(help: "Year the events fall in (Asia/Ho_Chi_Minh).") var year: Int = 2026
    @Option(help: "Month whose figures are timed.") var month: String = "2026-06"
    @Option(help: "Timed repetitions of each query.") var repetitions: Int = 200
    @Option(help: "Batches of 1,000 events sent through the store after the bulk load.") var batches: Int = 20
    @Flag(help: "Keep the database (its URL is printed).") var keep = false

    func validate() throws {
        guard dossiers > 0, (1...999).contains(agencies), repetitions > 0, batches >= 0 else {
            throw ValidationError("--dossiers, --repetitions must be positive; --agencies 1-999; --batches 0 or more")
        }
        guard StatisticsMonth(month) != nil else { throw ValidationError("--month must be YYYY-MM") }
    }

    func run() async throws {
        let logger = operatorLogger("idverify.bench.stats")
        let environmentURL = ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        // Without DATABASE_URL: a throwaway cluster of its own, stopped at the end unless --keep.
        let ownPostgres = environmentURL == nil ? try await LocalPostgres.start(directory: "/tmp/tthc-pg-bench-\(getuid())") : nil
        do {
            try await measure(serverURL: environmentURL ?? ownPostgres!.url, logger: logger)
        } catch {
            if !keep { await ownPostgres?.stop() }
            throw error
        }
        if !keep { await ownPostgres?.stop() }
    }

    private func measure(serverURL: String, logger: Logger) async throws {
        let name = "bench_stats_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try await Self.withClient(url: serverURL, logger: logger) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        guard var components = URLComponents(string: serverURL) else { throw ValidationError("DATABASE_URL is not a URL") }
        components.path = "/" + name
        let url = components.string ?? serverURL
        do {
            try await Self.withClient(url: url, logger: logger) { client in try await self.measure(client: client, logger: logger) }
        } catch {
            if !keep { try? await Self.drop(name, serverURL: serverURL, logger: logger) }
            throw error
        }
        if keep {
            print("database kept: \(url)")
        } else {
            try await Self.drop(name, serverURL: serverURL, logger: logger)
        }
    }

    private func measure(client: PostgresClient, logger: Logger) async throws {
        try await MigrationRunner(client: client, logger: logger).run()
        let statistics = DossierStatistics(client: client, logger: logger)
        let month = StatisticsMonth(self.month)!
        let agencyCodes = (1...agencies).map(Self.agencyCode)

        print("loading \(dossiers) dossiers, \(2 * dossiers) events over \(agencies) agencies in \(year) ...")
        let load = try await Self.time {
            try await client.withConnection { connection in
                try await connection.query("SELECT setseed(0.42)", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: self.bulkInsert), logger: logger)
            }
        }
        print(String(format: "  bulk insert (indexes as migrated): %.1f s", load.seconds))
        let rebuild = try await Self.time { try await statistics.rebuildRollup() }
        print(String(format: "  rollup built from the events (dossier_rollup_rebuild): %.1f s", rebuild.seconds))
        try await client.query("VACUUM ANALYZE dossier_events", logger: logger)
        try await client.query("VACUUM ANALYZE dossier_closings", logger: logger)
        try await client.query("VACUUM ANALYZE dossier_monthly_figures", logger: logger)

        // Batches through the real store path: half new dossiers, half re-closings in a later month.
        var batchTimes: [Double] = []
        for batch in 0..<batches {
            var events: [DossierEvent] = []
            for index in 0..<500 {
                let serial = batch * 500 + index
                let agency = agencyCodes[serial % agencies]
                let code = "NEW-\(serial)"
                let received = Self.date(year: year, month: 12, day: 1 + serial % 20)
                events.append(
                    DossierEvent(
                        eventId: UUID(), dossierCode: code, agencyCode: agency, type: .received, occurredAt: Timestamp(received),
                        dueAt: Timestamp(received.addingTimeInterval(7 * 86_400))))
                // Loaded dossier number serial+1 (first half of the year), returned again in December.
                events.append(
                    DossierEvent(
                        eventId: UUID(), dossierCode: Self.dossierCode(serial * 37 % dossiers + 1), agencyCode: agency,
                        type: .returned, occurredAt: Timestamp(received.addingTimeInterval(3_600))))
            }
            let elapsed = try await Self.time { try await statistics.record(events) }
            batchTimes.append(elapsed.seconds)
        }
        if !batchTimes.isEmpty {
            print("  \(batches) batches of 1,000 events through DossierStatistics.record (insert + rollup, one transaction):")
            print("    " + Self.summary(batchTimes))
        }

        let counted = try await Self.time { try await statistics.recomputedFigures(agency: nil, month: month) }
        let rolled = try await statistics.figures(agency: nil, month: month)
        print(String(format: "check: recount from raw events (the old query) took %.2f s; rollup %@", counted.seconds,
            counted.value == rolled ? "equal" : "DIFFERENT: \(counted.value) vs \(rolled)"))
        let december = StatisticsMonth(year: year, month: 12)!
        let decemberCounted = try await statistics.recomputedFigures(agency: agencyCodes[0], month: december)
        let decemberRolled = try await statistics.figures(agency: agencyCodes[0], month: december)
        print("check: \(december) \(agencyCodes[0]) after the re-closings: rollup \(decemberCounted == decemberRolled ? "equal" : "DIFFERENT") to the recount")
        let oneAgencyCounted = try await Self.time { try await statistics.recomputedFigures(agency: agencyCodes[0], month: month) }
        print(String(format: "check: recount of one agency took %.2f s", oneAgencyCounted.seconds))

        print("\ntimed \(repetitions) times each, month \(month), from the rollup:")
        var all: [Double] = []
        var one: [Double] = []
        var board: [Double] = []
        for repetition in 0..<repetitions {
            all.append(try await Self.time { try await statistics.figures(agency: nil, month: month) }.seconds)
            let agency = agencyCodes[repetition % agencies]
            one.append(try await Self.time { try await statistics.figures(agency: agency, month: month) }.seconds)
            board.append(try await Self.time { try await statistics.board(month: month) }.seconds)
        }
        print("  all agencies together (/v1/stats):   " + Self.summary(all))
        print("  one agency (/v1/stats?agency=...):   " + Self.summary(one))
        print("  board, every agency (/v1/board):     " + Self.summary(board))
    }

    /// Two events per dossier: `received` at a time spread over the year with a due date 5–14 days
    /// later, then `resolved` (9 in 10) or `returned` 1–16 days after receipt (so some are late).
    private var bulkInsert: String {
        """
        INSERT INTO dossier_events (event_id, dossier_code, agency_code, type, occurred_at, due_at)
        SELECT gen_random_uuid(), d.code, d.agency, e.type, e.occurred_at, e.due_at
        FROM (
            SELECT 'H23-' || lpad(i::text, 8, '0') AS code,
                   'H23.45.' || lpad((1 + i % \(agencies))::text, 2, '0') AS agency,
                   make_timestamptz(\(year), 1, 1, 0, 0, 0, 'Asia/Ho_Chi_Minh') + random() * interval '355 days' AS received_at,
                   5 + floor(random() * 10)::int AS due_days,
                   interval '1 day' + random() * interval '15 days' AS took,
                   random() < 0.9 AS resolved
            FROM generate_series(1, \(dossiers)) AS i
        ) d
        CROSS JOIN LATERAL (VALUES
            ('received', d.received_at, d.received_at + d.due_days * interval '1 day'),
            (CASE WHEN d.resolved THEN 'resolved' ELSE 'returned' END, d.received_at + d.took, NULL::timestamptz)
        ) AS e(type, occurred_at, due_at)
        """
    }

    static func agencyCode(_ number: Int) -> String {
        "H23.45." + (number < 10 ? "0" : "") + String(number)
    }

    static func dossierCode(_ number: Int) -> String {
        let digits = String(number)
        return "H23-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func date(year: Int, month: Int, day: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600)!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 9)) ?? Date()
    }

    static func summary(_ seconds: [Double]) -> String {
        let sorted = seconds.sorted()
        func ms(_ value: Double) -> String { String(format: "%.2f ms", value * 1000) }
        let p95 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.95))]
        return "median \(ms(sorted[sorted.count / 2]))  p95 \(ms(p95))  max \(ms(sorted.last!))"
    }

    static func time<T>(_ body: () async throws -> T) async throws -> (value: T, seconds: Double) {
        let start = ContinuousClock.now
        let value = try await body()
        let elapsed = ContinuousClock.now - start
        return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    @discardableResult
    static func withClient<T: Sendable>(url: String, logger: Logger, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let parsed = try settingOrExit { () throws(SettingError) in try OpsSettings.databaseURL(url) }
        let configuration = try parsed.configuration(defaultPoolSize: DatabaseURL.operatorPoolSize)
        return try await OpsSettings.withPostgres(configuration, logger: logger, body)
    }

    static func drop(_ name: String, serverURL: String, logger: Logger) async throws {
        try await withClient(url: serverURL, logger: logger) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}
