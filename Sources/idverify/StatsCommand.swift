import ArgumentParser
import CommandSupport
import Foundation
import Ops
import Store

/// `idverify stats`: the processing board ("Kết quả giải quyết TTHC") of one agency, or of all,
/// for one month, from `DATABASE_URL`.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show dossiers handled, resolved, returned, on time, late and the late rate for a month."
    )

    @Option(help: "Agency code (default: all agencies together).")
    var agency: String?

    @Option(help: "Month, YYYY-MM, in Asia/Ho_Chi_Minh (default: the current month).")
    var month: String?

    @Flag(help: "Print the JSON that GET /v1/stats answers instead of the board.")
    var json = false

    @Flag(help: "Count from the raw events instead of the rollup (slow at scale; to check the rollup).")
    var recompute = false

    @Flag(help: "Rebuild the rollup from the raw events first (writers wait meanwhile), then show the figures.")
    var rebuildRollup = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let month, StatisticsMonth(month) == nil { throw ValidationError("--month must be YYYY-MM") }
        if let agency, !AgencyCode.isValid(agency) { throw ValidationError("--agency must be 1-64 characters of A-Z a-z 0-9 . _ -") }
    }

    func run() async throws {
        let month = self.month.flatMap(StatisticsMonth.init) ?? StatisticsMonth(containing: Date())
        let logger = operatorLogger("idverify.stats")
        let figures = try await self.database.withPostgres(logger: logger) { [agency, recompute, rebuildRollup] client in
            let statistics = DossierStatistics(client: client, logger: logger)
            if rebuildRollup {
                let closings = try await statistics.rebuildRollup()
                FileHandle.standardError.write(Data("rollup rebuilt: \(closings) closed dossiers\n".utf8))
            }
            return try await recompute
                ? statistics.recomputedFigures(agency: agency, month: month)
                : statistics.figures(agency: agency, month: month)
        }
        print(self.json ? figures.jsonText : Self.board(figures))
    }

    static func board(_ figures: DossierFigures) -> String {
        let title = "Kết quả giải quyết TTHC: \(figures.agency.map { "agency \($0)" } ?? "all agencies"), \(figures.month) (Asia/Ho_Chi_Minh)"
        let rate = String(format: "%.2f %%", figures.lateRate * 100)
        let table = formatTable(
            [
                ["Handled (đã giải quyết)", String(figures.handled)],
                ["  resolved (có kết quả)", String(figures.resolved)],
                ["  returned (trả lại)", String(figures.returned)],
                ["On time (đúng hạn)", String(figures.onTime)],
                ["Late (quá hạn)", String(figures.late)],
                ["Late rate (tỷ lệ quá hạn)", rate],
            ], rightAligned: [1])
        return title + "\n" + table.dropLast()
    }
}
