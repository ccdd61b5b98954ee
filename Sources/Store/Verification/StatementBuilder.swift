import PostgresNIO

/// SQL built from parts, each value bound as a parameter (`$n`): lets one statement be put
/// together from pieces owned by different types (the group commit's common table expressions).
struct StatementBuilder {
    private(set) var binds = PostgresBindings()

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The statement `sql`, whose placeholders come from ``bind(_:)``.
    func query(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
