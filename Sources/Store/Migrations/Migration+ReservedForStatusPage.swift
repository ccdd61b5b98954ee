extension Migration {
    /// Version 6: PLACEHOLDER. Version 6 belongs to the status-page rollup (issue 15 part 1, branch
    /// `board`); this branch (`audit`) needs version 7, and versions must run without gaps. The lead
    /// replaces this file with the real migration 6 at merge; its trivial statement changes nothing.
    public static let reservedForStatusPage = Migration(
        version: 6,
        name: "reserved_for_status_page",
        statements: ["SELECT 1"]
    )
}
