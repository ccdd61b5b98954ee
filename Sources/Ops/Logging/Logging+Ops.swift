import Logging

/// Every logger metadata key this module writes, in one place, under the `ops.` namespace. None of
/// them carries personal data: only topics, partitions, offsets, counts, codes and durations.
enum OpsMetadataKey: String {
    case check = "ops.readiness.check"
    case reason = "ops.readiness.reason"
    case topic = "ops.kafka.topic"
    case partition = "ops.kafka.partition"
    case offset = "ops.kafka.offset"
    case count = "ops.count"
    case deadLetterReason = "ops.dead_letter.reason"
    case error = "ops.error"
    case retryIn = "ops.retry_in"
    case port = "ops.http.port"
}

extension Logger.Metadata {
    /// Builds metadata from ``OpsMetadataKey``s.
    static func ops(_ pairs: KeyValuePairs<OpsMetadataKey, Logger.Metadata.Value>) -> Logger.Metadata {
        var metadata = Logger.Metadata()
        for (key, value) in pairs { metadata[key.rawValue] = value }
        return metadata
    }
}
