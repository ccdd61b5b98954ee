/// One schema change: a version number and the SQL statements that make it.
///
/// Migrations are applied in version order, each in its own transaction, and recorded in
/// `schema_migrations`; see ``MigrationRunner``. A migration once released is never edited: a
/// change is a new migration with the next version number, appended to ``Migration/all``.
public struct Migration: Sendable, Hashable {
    /// Position in the order, from 1, without gaps.
    public let version: Int
    /// A short snake_case name, recorded beside the version.
    public let name: String
    /// The statements, run one after another in the migration's transaction (one statement each:
    /// the extended query protocol does not take several).
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

extension Migration {
    /// Every migration of the service, in order. **Append** new migrations at the end, with the
    /// next version number; never reorder, edit or remove a released one.
    public static let all: [Migration] = [
        .registryQuota,  // 1
        .verification,  // 2
        .registryQuotaClock,  // 3
        .parkedTraceState,  // 4
        .outboxByReference,  // 5
        .dossierRollup,  // 6
        .auditTrail,  // 7
        .registryAnswers,  // 8
        .leanIndexes,  // 9
    ]
}
