extension Migration {
    /// Version 4: a parked check keeps the request's `tracestate` beside its `traceparent`, so that
    /// the verdict of a check settled later continues the whole trace context, as an immediate one does.
    public static let parkedTraceState = Migration(
        version: 4,
        name: "parked_tracestate",
        statements: [
            "ALTER TABLE parked_checks ADD COLUMN IF NOT EXISTS tracestate text"
        ]
    )
}
