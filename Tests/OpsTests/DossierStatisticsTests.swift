import Contract
import Foundation
import Store
import Testing

/// The section 6 figures on a crafted set of events, against a real PostgreSQL.
@Suite("Dossier statistics (PostgreSQL)")
struct DossierStatisticsTests {
    static let agency = "H23.45.10"
    static let other = "H23.99.01"

    static func event(
        _ code: String, _ type: DossierEvent.EventType, _ occurredAt: String, due: String? = nil,
        agency: String = agency, id: UUID = UUID()
    ) -> DossierEvent {
        DossierEvent(
            eventId: id, dossierCode: code, agencyCode: agency, type: type, occurredAt: .at(occurredAt),
            dueAt: due.map(Timestamp.at))
    }

    /// November 2026 in Asia/Ho_Chi_Minh, with one case per rule.
    static let crafted: [DossierEvent] = [
        // On time: resolved before the due date.
        event("D-ONTIME", .received, "2026-11-02T08:00:00+07:00", due: "2026-11-10T17:00:00+07:00"),
        event("D-ONTIME", .processing, "2026-11-03T08:00:00+07:00"),
        event("D-ONTIME", .resolved, "2026-11-09T10:00:00+07:00"),
        // Exactly at the due date: on time.
        event("D-ATDUE", .received, "2026-11-02T08:00:00+07:00", due: "2026-11-12T17:00:00+07:00"),
        event("D-ATDUE", .resolved, "2026-11-12T17:00:00+07:00"),
        // Late: resolved after the due date.
        event("D-LATE", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-05T17:00:00+07:00"),
        event("D-LATE", .resolved, "2026-11-06T09:00:00+07:00"),
        // No due date: on time.
        event("D-NODUE", .received, "2026-11-04T08:00:00+07:00"),
        event("D-NODUE", .resolved, "2026-11-25T08:00:00+07:00"),
        // Returned, late.
        event("D-RETURNED", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-03T17:00:00+07:00"),
        event("D-RETURNED", .returned, "2026-11-20T08:00:00+07:00"),
        // Due date extended by a later event before closing: the latest dueAt counts (on time).
        event("D-EXTENDED", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-05T17:00:00+07:00"),
        event("D-EXTENDED", .processing, "2026-11-04T08:00:00+07:00", due: "2026-11-15T17:00:00+07:00"),
        event("D-EXTENDED", .resolved, "2026-11-14T08:00:00+07:00"),
        // Month boundary: 23:30 on 30 November in Viet Nam is 16:30 UTC, still November.
        event("D-LASTNIGHT", .received, "2026-11-20T08:00:00+07:00", due: "2026-12-10T17:00:00+07:00"),
        event("D-LASTNIGHT", .resolved, "2026-11-30T16:30:00Z"),
        // ... and 00:30 on 1 December in Viet Nam is 17:30 UTC on 30 November: December.
        event("D-DECEMBER", .received, "2026-11-20T08:00:00+07:00", due: "2026-12-10T17:00:00+07:00"),
        event("D-DECEMBER", .resolved, "2026-11-30T17:30:00Z"),
        // 06:00 on 1 November in Viet Nam is 23:00 UTC on 31 October: November.
        event("D-FIRSTMORNING", .received, "2026-10-25T08:00:00+07:00"),
        event("D-FIRSTMORNING", .resolved, "2026-10-31T23:00:00Z"),
        // Resolved in October, then returned in November after a complaint: counts once, in November, returned.
        event("D-REOPENED", .received, "2026-10-01T08:00:00+07:00", due: "2026-10-20T17:00:00+07:00"),
        event("D-REOPENED", .resolved, "2026-10-15T08:00:00+07:00"),
        event("D-REOPENED", .returned, "2026-11-03T08:00:00+07:00"),
        // Not closed: not counted.
        event("D-OPEN", .received, "2026-11-02T08:00:00+07:00", due: "2026-11-03T17:00:00+07:00"),
        event("D-OPEN", .processing, "2026-11-05T08:00:00+07:00"),
        event("D-WITHDRAWN", .received, "2026-11-02T08:00:00+07:00"),
        event("D-WITHDRAWN", .withdrawn, "2026-11-05T08:00:00+07:00"),
        // Another agency: one late resolution in November.
        event("O-LATE", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-02T17:00:00+07:00", agency: other),
        event("O-LATE", .resolved, "2026-11-08T08:00:00+07:00", agency: other),
    ]

    @Test("figures per agency and for all agencies follow section 6")
    func craftedFigures() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            #expect(try await statistics.record(Self.crafted) == Self.crafted.count)

            let november = try #require(StatisticsMonth("2026-11"))
            let mine = try await statistics.figures(agency: Self.agency, month: november)
            // resolved: ONTIME, ATDUE, LATE, NODUE, EXTENDED, LASTNIGHT, FIRSTMORNING; returned: RETURNED, REOPENED
            #expect(mine.resolved == 7)
            #expect(mine.returned == 2)
            #expect(mine.handled == 9)
            // late: LATE, RETURNED, REOPENED (returned after its October due date)
            #expect(mine.late == 3)
            #expect(mine.onTime == 6)
            #expect(mine.lateRate == 3.0 / 9.0)
            #expect(mine.agency == Self.agency)

            let all = try await statistics.figures(agency: nil, month: november)
            #expect(all.agency == nil)
            #expect(all.handled == 10)
            #expect(all.resolved == 8)
            #expect(all.late == 4)
            #expect(all.onTime == 6)
            #expect(all.lateRate == 0.4)

            let december = try await statistics.figures(agency: Self.agency, month: try #require(StatisticsMonth("2026-12")))
            #expect(december.handled == 1)
            #expect(december.resolved == 1)
            #expect(december.late == 0)

            // D-REOPENED's October resolution no longer counts: its latest closing event is in November.
            let october = try await statistics.figures(agency: Self.agency, month: try #require(StatisticsMonth("2026-10")))
            #expect(october.handled == 0)
            #expect(october.lateRate == 0)
        }
    }

    @Test("events are idempotent by eventId: duplicates change nothing")
    func duplicates() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            let received = Self.event("D-DUP", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-05T17:00:00+07:00")
            let resolved = Self.event("D-DUP", .resolved, "2026-11-04T08:00:00+07:00")
            #expect(try await statistics.record([received, resolved, received]) == 2)
            #expect(try await statistics.record([resolved]) == 0)
            // The same id with other content: the first version wins.
            var altered = resolved
            altered.occurredAt = .at("2026-11-28T08:00:00+07:00")
            #expect(try await statistics.record([altered]) == 0)

            let figures = try await statistics.figures(agency: Self.agency, month: try #require(StatisticsMonth("2026-11")))
            #expect(figures.handled == 1)
            #expect(figures.onTime == 1)
            #expect(figures.late == 0)
        }
    }

    /// Every figure the rollup holds for these months equals a count from the raw events.
    static func expectRollupMatchesEvents(
        _ statistics: DossierStatistics, months: [String], agencies: [String?] = [nil, agency, other],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for text in months {
            let month = try #require(StatisticsMonth(text))
            for agency in agencies {
                let rolled = try await statistics.figures(agency: agency, month: month)
                let counted = try await statistics.recomputedFigures(agency: agency, month: month)
                #expect(rolled == counted, "\(text) \(agency ?? "all")", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("the rollup follows events arriving one by one in any order, and equals a recount and a rebuild")
    func rollupIncremental() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            var generator = SystemRandomNumberGenerator()
            let shuffled = Self.crafted.shuffled(using: &generator)
            var start = 0
            while start < shuffled.count {
                let size = Int.random(in: 1...4, using: &generator)
                let batch = Array(shuffled[start..<min(start + size, shuffled.count)])
                #expect(try await statistics.record(batch) == batch.count)
                start += batch.count
                try await Self.expectRollupMatchesEvents(statistics, months: ["2026-10", "2026-11", "2026-12"])
            }
            let november = try #require(StatisticsMonth("2026-11"))
            let mine = try await statistics.figures(agency: Self.agency, month: november)
            #expect(mine == DossierFigures(agency: Self.agency, month: november, resolved: 7, returned: 2, late: 3))
            let board = try await statistics.board(month: november)
            #expect(board.map(\.agency) == [Self.agency, Self.other])
            #expect(board.map(\.handled) == [9, 1])
            #expect(try await statistics.months().map(\.description) == ["2026-12", "2026-11"])

            let before = try await statistics.board(month: november)
            #expect(try await statistics.rebuildRollup() == 11)
            #expect(try await statistics.board(month: november) == before)
        }
    }

    @Test("a dossier closed again in a later month moves from the earlier month's figures to the later one's")
    func reclosedLater() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            let october = try #require(StatisticsMonth("2026-10"))
            let november = try #require(StatisticsMonth("2026-11"))
            try await statistics.record([
                Self.event("D-MOVE", .received, "2026-10-01T08:00:00+07:00", due: "2026-10-20T17:00:00+07:00"),
                Self.event("D-MOVE", .resolved, "2026-10-15T08:00:00+07:00"),
            ])
            #expect(try await statistics.figures(agency: Self.agency, month: october).resolved == 1)
            #expect(try await statistics.figures(agency: Self.agency, month: october).late == 0)
            // Returned again in November by another agency, after the due date.
            try await statistics.record([Self.event("D-MOVE", .returned, "2026-11-03T08:00:00+07:00", agency: Self.other)])
            #expect(try await statistics.figures(agency: Self.agency, month: october).handled == 0)
            let moved = try await statistics.figures(agency: Self.other, month: november)
            #expect(moved.returned == 1)
            #expect(moved.late == 1)
            #expect(try await statistics.figures(agency: nil, month: november).handled == 1)
            // A late-arriving older closing changes nothing; a late-arriving extension of the due date does.
            try await statistics.record([Self.event("D-MOVE", .resolved, "2026-10-25T08:00:00+07:00")])
            #expect(try await statistics.figures(agency: nil, month: october).handled == 0)
            try await statistics.record([
                Self.event("D-MOVE", .processing, "2026-10-28T08:00:00+07:00", due: "2026-11-10T17:00:00+07:00")
            ])
            let extended = try await statistics.figures(agency: Self.other, month: november)
            #expect(extended.late == 0)
            #expect(extended.onTime == 1)
            try await Self.expectRollupMatchesEvents(statistics, months: ["2026-10", "2026-11"])
        }
    }

    @Test("writers on several connections at once leave the rollup equal to a recount")
    func concurrentWriters() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            // 40 dossiers, each received (with a due date) and closed twice by different writers,
            // the batches split so that one dossier's events go through different transactions.
            var events: [DossierEvent] = []
            for number in 0..<40 {
                let code = "D-C\(number)"
                let agency = number % 2 == 0 ? Self.agency : Self.other
                events.append(Self.event(code, .received, "2026-10-0\(1 + number % 9)T08:00:00+07:00", due: "2026-10-20T17:00:00+07:00", agency: agency))
                events.append(Self.event(code, .resolved, "2026-10-1\(number % 10)T08:00:00+07:00", agency: agency))
                events.append(Self.event(code, .returned, "2026-11-0\(1 + number % 9)T08:00:00+07:00", agency: number % 3 == 0 ? Self.other : agency))
            }
            // Batch k: dossier k's receipt, dossier k+1's resolution, dossier k+2's return.
            let batches = (0..<40).map { k in (0..<3).map { offset in events[((k + offset) % 40) * 3 + offset] } }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for batch in batches { group.addTask { try await statistics.record(batch) } }
                var total = 0
                for try await inserted in group { total += inserted }
                #expect(total == events.count)
            }
            try await Self.expectRollupMatchesEvents(statistics, months: ["2026-10", "2026-11"])
            #expect(try await statistics.figures(agency: nil, month: try #require(StatisticsMonth("2026-11"))).handled == 40)
            #expect(try await statistics.figures(agency: nil, month: try #require(StatisticsMonth("2026-10"))).handled == 0)
        }
    }

    @Test("codes with NUL or over 512 bytes are stored through StorableText, and the batch is kept")
    func unstorableCodes() async throws {
        try await OpsTestEnvironment.withDatabase { client, _ in
            let statistics = DossierStatistics(client: client, logger: OpsTestEnvironment.logger)
            let nulAgency = "H23\u{0}45"
            let events = [
                Self.event("D-\u{0}NUL", .received, "2026-11-01T08:00:00+07:00", due: "2026-11-05T17:00:00+07:00", agency: nulAgency),
                Self.event("D-\u{0}NUL", .resolved, "2026-11-06T08:00:00+07:00", agency: nulAgency),
                Self.event(String(repeating: "X", count: 3_000), .resolved, "2026-11-06T08:00:00+07:00"),
                Self.event("D-PLAIN", .resolved, "2026-11-06T08:00:00+07:00"),
            ]
            #expect(try await statistics.record(events) == 4)
            let november = try #require(StatisticsMonth("2026-11"))
            #expect(try await statistics.figures(agency: nil, month: november).handled == 3)
            #expect(try await statistics.figures(agency: nulAgency, month: november).late == 1)
            #expect(try await statistics.figures(agency: Self.agency, month: november).handled == 2)
        }
    }

    @Test("migration 6 backfills the rollup from the events stored before it")
    func backfill() async throws {
        try await OpsTestEnvironment.withDatabase(migrated: false) { client, _ in
            let logger = OpsTestEnvironment.logger
            try await MigrationRunner(client: client, migrations: Array(Migration.all.prefix(5)), logger: logger).run()
            for event in Self.crafted {
                let due = event.dueAt?.date
                try await client.query(
                    """
                    INSERT INTO dossier_events (event_id, dossier_code, agency_code, type, occurred_at, due_at)
                    VALUES (\(event.eventId), \(event.dossierCode), \(event.agencyCode), \(event.type.rawValue),
                            \(event.occurredAt.date), \(due))
                    """, logger: logger)
            }
            #expect(try await MigrationRunner(client: client, logger: logger).run().contains(6))
            let statistics = DossierStatistics(client: client, logger: logger)
            let november = try #require(StatisticsMonth("2026-11"))
            #expect(try await statistics.figures(agency: nil, month: november).handled == 10)
            try await Self.expectRollupMatchesEvents(statistics, months: ["2026-10", "2026-11", "2026-12"])
        }
    }

    @Test("months parse strictly and follow Asia/Ho_Chi_Minh")
    func months() throws {
        #expect(StatisticsMonth("2026-11")?.description == "2026-11")
        #expect(StatisticsMonth("0999-01")?.description == "0999-01")
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", "abcd-ef"] {
            #expect(StatisticsMonth(bad) == nil, "\(bad)")
        }
        // 2026-11-30T17:30Z is already December in Viet Nam.
        #expect(StatisticsMonth(containing: Timestamp.at("2026-11-30T17:30:00Z").date).description == "2026-12")
        #expect(StatisticsMonth(containing: Timestamp.at("2026-11-30T16:59:59Z").date).description == "2026-11")
    }
}
