import Contract
import Store

/// Where consumed dossier events go. ``DossierStatistics`` is the real one.
public protocol DossierEventStore: Sendable {
    /// Stores the events not stored yet (idempotent by `eventId`); returns how many were new.
    func record(_ events: [DossierEvent]) async throws -> Int
}

/// What `/v1/stats`, `/v1/board` and the status page ask. ``DossierStatistics`` is the real one.
public protocol DossierStatisticsSource: Sendable {
    func figures(agency: String?, month: StatisticsMonth) async throws -> DossierFigures
    /// Every agency with figures in `month`, by agency code.
    func board(month: StatisticsMonth) async throws -> [DossierFigures]
    /// The months that have figures, latest first.
    func months(limit: Int) async throws -> [StatisticsMonth]
}

extension DossierStatistics: DossierEventStore, DossierStatisticsSource {}
