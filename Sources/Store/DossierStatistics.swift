import Contract
import Foundation
import Logging
import PostgresNIO

/// The processing record that a TTHC portal shows per agency and month ("Kết quả giải quyết
/// TTHC", contract section 6), kept in `dossier_events` (migration 2) and rolled up per agency and
/// month in `dossier_closings` / `dossier_monthly_figures` (migration 6).
///
/// **Recording.** ``record(_:)`` inserts events idempotently by `eventId` (a redelivered or
/// re-published event changes nothing, and the first version of an event id wins) and updates the
/// rollup in the same transaction. Codes off the wire are stored through ``StorableText``, so a NUL
/// byte or an oversized code cannot make PostgreSQL refuse the batch.
///
/// **Counting.** A dossier counts once, in the month (Asia/Ho_Chi_Minh) of the event that closed
/// it: its latest `resolved` or `returned` event by `occurredAt` (ties broken by event id, so the
/// answer does not depend on arrival order). A dossier resolved in one month and returned again in
/// a later one counts only in the later month, as returned. It is on time when that event's
/// `occurredAt` is at or before its due date, which is the `dueAt` of the latest event carrying
/// one that occurred at or before the closing event (usually `received`); a dossier without a due
/// date is on time. The agency is the closing event's `agencyCode`.
///
/// **Reading.** ``figures(agency:month:)`` and ``board(month:)`` read the rollup (a few rows per
/// month); ``recomputedFigures(agency:month:)`` counts from the raw events with the same rules, to
/// check the rollup, and ``rebuildRollup()`` rebuilds it from the raw events.
public struct DossierStatistics: Sendable {
    /// The zone whose calendar months the figures use.
    public static let timeZoneIdentifier = "Asia/Ho_Chi_Minh"

    private let client: PostgresClient
    private let logger: Logger

    /// - Parameters:
    ///   - client: A running `PostgresClient` on a database migrated to version 6 or later.
    ///   - logger: For the queries (PostgresNIO logs at `debug`).
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Inserts events that are not stored yet and updates the rollup, in one transaction.
    ///
    /// - Returns: How many were new (the rest were already stored, or repeated within `events`).
    @discardableResult
    public func record(_ events: [DossierEvent]) async throws -> Int {
        if events.isEmpty { return 0 }
        var ids: [UUID] = []
        var codes: [String] = []
        var agencies: [String] = []
        var types: [String] = []
        var occurred: [Date] = []
        var due: [Date] = []
        var hasDue: [Bool] = []
        for event in events {
            ids.append(event.eventId)
            codes.append(StorableText.encode(event.dossierCode))
            agencies.append(StorableText.encode(event.agencyCode))
            types.append(event.type.rawValue)
            occurred.append(event.occurredAt.date)
            due.append(event.dueAt?.date ?? event.occurredAt.date)
            hasDue.append(event.dueAt != nil)
        }
        let rows = try await self.client.query(
            """
            SELECT dossier_events_record(\(ids)::uuid[], \(codes)::text[], \(agencies)::text[], \(types)::text[],
                                         \(occurred)::timestamptz[], \(due)::timestamptz[], \(hasDue)::boolean[])
            """,
            logger: self.logger
        )
        var inserted = 0
        for try await count in rows.decode(Int.self) { inserted = count }
        return inserted
    }

    /// The figures of one month, for one agency or (with `agency` nil) for all agencies together,
    /// from the rollup.
    public func figures(agency: String?, month: StatisticsMonth) async throws -> DossierFigures {
        let stored = agency.map(StorableText.encode)
        let rows = try await self.client.query(
            """
            SELECT coalesce(sum(resolved), 0)::int8, coalesce(sum(returned), 0)::int8, coalesce(sum(late), 0)::int8
            FROM dossier_monthly_figures
            WHERE month = make_date(\(month.year)::int, \(month.month)::int, 1)
              AND (\(stored)::text IS NULL OR agency_code = \(stored)::text)
            """,
            logger: self.logger
        )
        var figures = DossierFigures(agency: agency, month: month, resolved: 0, returned: 0, late: 0)
        for try await (resolved, returned, late) in rows.decode((Int, Int, Int).self) {
            figures.resolved = resolved
            figures.returned = returned
            figures.late = late
        }
        return figures
    }

    /// The figures of one month for every agency that has a dossier counted in it, by agency code,
    /// from the rollup.
    public func board(month: StatisticsMonth) async throws -> [DossierFigures] {
        let rows = try await self.client.query(
            """
            SELECT agency_code, resolved, returned, late
            FROM dossier_monthly_figures
            WHERE month = make_date(\(month.year)::int, \(month.month)::int, 1) AND resolved + returned > 0
            ORDER BY agency_code
            """,
            logger: self.logger
        )
        var board: [DossierFigures] = []
        for try await (agency, resolved, returned, late) in rows.decode((String, Int, Int, Int).self) {
            board.append(DossierFigures(agency: agency, month: month, resolved: resolved, returned: returned, late: late))
        }
        return board
    }

    /// The months that have figures, latest first (for the page's month picker).
    public func months(limit: Int = 120) async throws -> [StatisticsMonth] {
        let rows = try await self.client.query(
            """
            SELECT DISTINCT extract(year FROM month)::int, extract(month FROM month)::int
            FROM dossier_monthly_figures
            WHERE resolved + returned > 0
            ORDER BY 1 DESC, 2 DESC
            LIMIT \(limit)
            """,
            logger: self.logger
        )
        var months: [StatisticsMonth] = []
        for try await (year, month) in rows.decode((Int, Int).self) {
            if let value = StatisticsMonth(year: year, month: month) { months.append(value) }
        }
        return months
    }

    /// Rebuilds the rollup from every stored event (as migration 6 did); returns the closed
    /// dossiers counted. Writers wait meanwhile (one advisory lock).
    @discardableResult
    public func rebuildRollup() async throws -> Int {
        let rows = try await self.client.query("SELECT dossier_rollup_rebuild()", logger: self.logger)
        var closings = 0
        for try await count in rows.decode(Int.self) { closings = count }
        return closings
    }

    /// The figures counted from the raw events with the same rules, without the rollup: slow at a
    /// province's scale (seconds), for checking the rollup (`idverify stats --recompute`).
    public func recomputedFigures(agency: String?, month: StatisticsMonth) async throws -> DossierFigures {
        let zone = Self.timeZoneIdentifier
        let next = month.next
        let stored = agency.map(StorableText.encode)
        let rows = try await self.client.query(
            """
            WITH bounds AS (
                SELECT make_timestamptz(\(month.year)::int, \(month.month)::int, 1, 0, 0, 0, \(zone)::text) AS start_at,
                       make_timestamptz(\(next.year)::int, \(next.month)::int, 1, 0, 0, 0, \(zone)::text) AS end_at
            ),
            closing AS (
                SELECT DISTINCT ON (e.dossier_code) e.dossier_code, e.agency_code, e.type, e.occurred_at
                FROM dossier_events e
                WHERE e.type IN ('resolved', 'returned')
                  AND e.dossier_code IN (
                      SELECT c.dossier_code FROM dossier_events c, bounds b
                      WHERE c.type IN ('resolved', 'returned')
                        AND c.occurred_at >= b.start_at
                        AND c.occurred_at < b.end_at)
                ORDER BY e.dossier_code, e.occurred_at DESC, e.event_id DESC
            ),
            decided AS (
                SELECT c.type, c.occurred_at,
                       (SELECT d.due_at FROM dossier_events d
                        WHERE d.dossier_code = c.dossier_code AND d.due_at IS NOT NULL
                          AND d.occurred_at <= c.occurred_at
                        ORDER BY d.occurred_at DESC, d.event_id DESC LIMIT 1) AS due_at
                FROM closing c, bounds b
                WHERE c.occurred_at >= b.start_at
                  AND c.occurred_at < b.end_at
                  AND (\(stored)::text IS NULL OR c.agency_code = \(stored)::text)
            )
            SELECT count(*) FILTER (WHERE type = 'resolved'),
                   count(*) FILTER (WHERE type = 'returned'),
                   count(*) FILTER (WHERE due_at IS NOT NULL AND occurred_at > due_at)
            FROM decided
            """,
            logger: self.logger
        )
        var figures = DossierFigures(agency: agency, month: month, resolved: 0, returned: 0, late: 0)
        for try await (resolved, returned, late) in rows.decode((Int, Int, Int).self) {
            figures.resolved = resolved
            figures.returned = returned
            figures.late = late
        }
        return figures
    }
}

/// One calendar month (`YYYY-MM`), as the statistics count it.
public struct StatisticsMonth: Sendable, Hashable, Comparable, LosslessStringConvertible {
    /// 1–9999.
    public let year: Int
    /// 1–12.
    public let month: Int

    /// `nil` unless 1 ≤ year ≤ 9999 and 1 ≤ month ≤ 12.
    public init?(year: Int, month: Int) {
        guard (1...9999).contains(year), (1...12).contains(month) else { return nil }
        self.year = year
        self.month = month
    }

    /// Parses exactly `YYYY-MM` (four digits, a hyphen, two digits).
    public init?(_ description: String) {
        let bytes = Array(description.utf8)
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7) else { return nil }
        self.init(year: year, month: month)
    }

    /// The month that `date` falls in, in Asia/Ho_Chi_Minh.
    public init(containing date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        // Viet Nam has kept UTC+7 without daylight saving since 1975; the fixed offset is the fallback.
        calendar.timeZone = TimeZone(identifier: DossierStatistics.timeZoneIdentifier) ?? TimeZone(secondsFromGMT: 7 * 3600)!
        let components = calendar.dateComponents([.year, .month], from: date)
        self.year = components.year ?? 1970
        self.month = components.month ?? 1
    }

    /// The month after this one (year 10000 after 9999-12, which PostgreSQL still handles).
    var next: (year: Int, month: Int) {
        self.month == 12 ? (self.year + 1, 1) : (self.year, self.month + 1)
    }

    public var description: String {
        let year = String(self.year)
        let month = String(self.month)
        return String(repeating: "0", count: max(0, 4 - year.count)) + year + "-" + (month.count == 1 ? "0" : "") + month
    }

    public static func < (lhs: StatisticsMonth, rhs: StatisticsMonth) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }
}

/// The section 6 figures for one agency (or all) and one month.
public struct DossierFigures: Sendable, Hashable {
    /// The agency asked for; `nil` for all agencies together.
    public var agency: String?
    public var month: StatisticsMonth
    /// Dossiers closed as `resolved`.
    public var resolved: Int
    /// Dossiers closed as `returned`.
    public var returned: Int
    /// Closed after their due date.
    public var late: Int

    public init(agency: String?, month: StatisticsMonth, resolved: Int, returned: Int, late: Int) {
        self.agency = agency
        self.month = month
        self.resolved = resolved
        self.returned = returned
        self.late = late
    }

    /// `resolved + returned`.
    public var handled: Int { self.resolved + self.returned }
    /// Closed at or before their due date, or without one: `handled - late`.
    public var onTime: Int { self.handled - self.late }
    /// `late / handled`, 0 when nothing was handled.
    public var lateRate: Double { self.handled == 0 ? 0 : Double(self.late) / Double(self.handled) }
}
