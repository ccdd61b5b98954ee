/// How long rows are kept, and how they are deleted (see ``RetentionService``). A period of 0 days
/// keeps rows for ever.
public struct RetentionConfiguration: Sendable, Hashable {
    /// Results (`verification_results`: the stored verdicts, and so the idempotency record), by
    /// `decided_at`. Env `RETENTION_RESULTS_DAYS`. Default: 400 (a year and some margin).
    public var resultsDays = 400
    /// Dossier events (`dossier_events`, the statistics' input), by `recorded_at`. Env
    /// `RETENTION_DOSSIER_EVENTS_DAYS`. Default: 400.
    public var dossierEventsDays = 400
    /// Audit rows (`audit_trail`), by `decided_at`, oldest first in chain order. Env
    /// `RETENTION_AUDIT_DAYS`. Default: 1,826 (five years).
    public var auditDays = 1_826
    /// Rows per delete statement. Default: 1,000.
    public var batchSize = 1_000
    /// Pause between two batches, so other writers get the table and the disk. Default: 100 ms.
    public var pause: Duration = .milliseconds(100)
    /// Time between two passes (the first pass starts after one). Default: 1 hour.
    public var interval: Duration = .seconds(3_600)

    public init() {}
}
