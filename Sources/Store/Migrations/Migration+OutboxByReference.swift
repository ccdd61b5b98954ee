extension Migration {
    /// Version 5: an outbox row names its verdict (`request_id`, whose `verification_results` row
    /// holds the bytes, headers and key) instead of holding a second copy. Rows written before
    /// keep their copy and are published from it.
    public static let outboxByReference = Migration(
        version: 5,
        name: "outbox_by_reference",
        statements: [
            "ALTER TABLE verdict_outbox ALTER COLUMN verdict DROP NOT NULL, ALTER COLUMN verdict_headers DROP NOT NULL"
        ]
    )
}
