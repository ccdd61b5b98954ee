import Contract
import Store

/// Where consumed dossier events go. ``DossierStatistics`` is the real one.
public protocol DossierEventStore: Sendable {
    /// Stores the events not stored yet (idempotent by `eventId`); returns how many were new.
    func record(_ events: [DossierEvent]) async throws -> Int
}

/// What `/v1/stats` asks. ``DossierStatistics`` is the real one.
public protocol DossierStatisticsSource: Sendable {
    func figures(agency: String?, month: StatisticsMonth) async throws -> DossierFigures
}

extension DossierStatistics: DossierEventStore, DossierStatisticsSource {}
