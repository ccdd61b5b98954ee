import Foundation
import Logging
import ServiceLifecycle
import Store

/// Deletes results, dossier events and audit rows past their retention, and expired registry answers, in the background: every
/// ``RetentionConfiguration/interval``, each table in batches of ``RetentionConfiguration/batchSize``
/// with a pause between them. Dead letters live only on their Kafka topic: their retention is the
/// topic's `retention.ms` (docs/operations.md).
public struct RetentionService: Service {
    /// Rows deleted by one pass.
    public struct PassResult: Sendable, Hashable {
        public var results = 0
        public var dossierEvents = 0
        public var auditRows = 0
        /// Registry answers past their own expiry (always deleted: they are no longer reused).
        public var registryAnswers = 0

        public init(results: Int = 0, dossierEvents: Int = 0, auditRows: Int = 0, registryAnswers: Int = 0) {
            self.results = results
            self.dossierEvents = dossierEvents
            self.auditRows = auditRows
            self.registryAnswers = registryAnswers
        }
    }

    private let store: RetentionStore
    private let configuration: RetentionConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock the cut-offs count from. Default: the system clock.
    public init(store: RetentionStore, configuration: RetentionConfiguration, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: configuration.interval)
                } catch {
                    return
                }
                do {
                    let pass = try await runOnce()
                    logger.debug(
                        "retention pass done",
                        metadata: ["retention.results": "\(pass.results)", "retention.dossier_events": "\(pass.dossierEvents)",
                            "retention.audit_rows": "\(pass.auditRows)", "retention.registry_answers": "\(pass.registryAnswers)"])
                } catch is CancellationError {
                    return
                } catch {
                    // The next pass tries again (the database may be away, or the schema not migrated yet).
                    logger.warning("retention pass failed", metadata: ["retention.error": "\(error)"])
                }
            }
        }
    }

    /// One pass over every table with a retention period; returns how many rows it deleted.
    public func runOnce() async throws -> PassResult {
        var result = PassResult()
        let now = self.now()
        func cutoff(_ days: Int) -> Date? { days > 0 ? now.addingTimeInterval(-Double(days) * 86_400) : nil }
        if let cutoff = cutoff(configuration.resultsDays) {
            result.results = try await batches { try await store.deleteResults(decidedBefore: cutoff, limit: $0) }
        }
        if let cutoff = cutoff(configuration.dossierEventsDays) {
            result.dossierEvents = try await batches { try await store.deleteDossierEvents(recordedBefore: cutoff, limit: $0) }
        }
        if let cutoff = cutoff(configuration.auditDays) {
            result.auditRows = try await batches { try await store.deleteAuditRows(decidedBefore: cutoff, limit: $0) }
        }
        result.registryAnswers = try await batches { try await store.deleteExpiredAnswers(before: now, limit: $0) }
        return result
    }

    /// Runs `batch` until it deletes fewer than a full batch, pausing between batches.
    private func batches(_ batch: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while true {
            try Task.checkCancellation()
            let deleted = try await batch(configuration.batchSize)
            total += deleted
            if deleted < configuration.batchSize { return total }
            try await Task.sleep(for: configuration.pause)
        }
    }
}
