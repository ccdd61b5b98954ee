import Logging
import Tracing

extension Logger.MetadataProvider {
    /// `request.id`, `trace.id` and `span.id` of the task's current `ServiceContext`, on every
    /// line logged inside a request's span: the worker's own lines, and those of the registry
    /// client, AsyncHTTPClient and PostgresNIO called from it.
    public static let requestTrace = Logger.MetadataProvider {
        guard let context = ServiceContext.current else { return [:] }
        var metadata: Logger.Metadata = [:]
        if let requestID = context.requestID { metadata["request.id"] = "\(requestID)" }
        if let traceID = context.traceID { metadata["trace.id"] = "\(traceID)" }
        if let spanID = context.spanID { metadata["span.id"] = "\(spanID)" }
        return metadata
    }
}
