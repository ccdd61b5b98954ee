extension Migration {
    /// Version 9: fewer index entries per verdict (issue 12: PostgreSQL's work per verdict).
    ///
    /// Every verdict inserts a `verification_results` row and an `audit_trail` row; each of their
    /// btree indexes costs an index insertion and its WAL record per verdict. What reads them:
    ///
    /// - `verification_results_dossier`: nothing (the dossier's state lives in `dossiers`). Dropped.
    /// - `verification_results_decided_at`, `audit_trail_decided_at`: retention of results (oldest
    ///   first, in batches of at most 1,000) and `idverify audit --since/--until`. Both columns grow
    ///   with insertion order, so a BRIN index (a few bytes per 128 pages, no entry per row) finds
    ///   the old or the asked-for range as well. Replaced by `…_decided_at_brin`.
    /// - `audit_trail_actor`, `audit_trail_agency`: only `idverify audit --actor/--agency`, which
    ///   operators run with a time window (`--since`): the BRIN index bounds the scan. Dropped.
    /// - `audit_trail_subject_ref`: `idverify audit --subject-ref`, the one question asked without
    ///   a time window (whose checks were made on this person, over five years of rows). Kept, as a
    ///   hash index: an entry is a 4-byte hash instead of the 43-character ref and `decided_at`, so
    ///   an insertion writes a fifth of the bytes; the few rows of one subject are then filtered
    ///   by time and sorted.
    /// - `dossiers`: a dossier's state is updated at each of its checks; with free space on its
    ///   page (fillfactor 50) the update is a HOT update, with no second `dossiers_pkey` entry and
    ///   no index bloat. Applies to pages written from now on.
    ///
    /// The index builds lock the tables they index for as long as they take (the brin and hash
    /// builds read each table once); on a large table run this migration in a quiet hour.
    public static let leanIndexes = Migration(
        version: 9,
        name: "lean_indexes",
        statements: [
            "DROP INDEX IF EXISTS verification_results_dossier",
            "DROP INDEX IF EXISTS verification_results_decided_at",
            "CREATE INDEX verification_results_decided_at_brin ON verification_results USING brin (decided_at)",
            "DROP INDEX IF EXISTS audit_trail_decided_at",
            "DROP INDEX IF EXISTS audit_trail_actor",
            "DROP INDEX IF EXISTS audit_trail_agency",
            "DROP INDEX IF EXISTS audit_trail_subject_ref",
            "CREATE INDEX audit_trail_decided_at_brin ON audit_trail USING brin (decided_at)",
            "CREATE INDEX audit_trail_subject_ref_hash ON audit_trail USING hash (subject_ref) WHERE subject_ref IS NOT NULL",
            "ALTER TABLE dossiers SET (fillfactor = 50)",
        ]
    )
}
