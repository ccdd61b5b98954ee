/// What the service adds to a dead letter: the reason and where the message came from.
///
/// The message itself goes to the dead-letter topic unchanged (key, value, original headers);
/// these four headers are appended after the original ones, so a message dead-lettered twice
/// (after a replay) carries both sets: read the last header of each name.
public struct DeadLetterMetadata: Sendable, Hashable {
    public static let reasonHeader = "dlq_reason"
    public static let sourceTopicHeader = "dlq_source_topic"
    public static let sourcePartitionHeader = "dlq_source_partition"
    public static let sourceOffsetHeader = "dlq_source_offset"

    public var reason: DeadLetterReason
    public var sourceTopic: String
    public var sourcePartition: Int32
    public var sourceOffset: Int64

    public init(reason: DeadLetterReason, sourceTopic: String, sourcePartition: Int32, sourceOffset: Int64) {
        self.reason = reason
        self.sourceTopic = sourceTopic
        self.sourcePartition = sourcePartition
        self.sourceOffset = sourceOffset
    }

    /// The four added headers; values are UTF-8 text, numbers in decimal.
    public var headers: [MessageHeader] {
        [
            MessageHeader(name: Self.reasonHeader, value: self.reason.rawValue),
            MessageHeader(name: Self.sourceTopicHeader, value: self.sourceTopic),
            MessageHeader(name: Self.sourcePartitionHeader, value: String(self.sourcePartition)),
            MessageHeader(name: Self.sourceOffsetHeader, value: String(self.sourceOffset)),
        ]
    }

    /// The dead letter's headers: `original` unchanged, then ours.
    public func headers(appendingTo original: [MessageHeader]) -> [MessageHeader] {
        original + self.headers
    }

    /// Reads the metadata back from a dead letter's headers (the last of each name wins), for
    /// replay tools. `nil` when one is missing or malformed.
    public init?(headers: [MessageHeader]) {
        func last(_ name: String) -> String? {
            headers.last { $0.name == name }?.stringValue
        }
        guard let reason = last(Self.reasonHeader), let topic = last(Self.sourceTopicHeader),
            let partition = last(Self.sourcePartitionHeader).flatMap({ Int32($0) }),
            let offset = last(Self.sourceOffsetHeader).flatMap({ Int64($0) })
        else { return nil }
        self.init(reason: DeadLetterReason(rawValue: reason), sourceTopic: topic, sourcePartition: partition, sourceOffset: offset)
    }

    /// The added headers as one JSON object of strings, in header order (the form
    /// `schemas/dead-letter-headers.schema.json` describes).
    public func encodedJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        for header in self.headers {
            writer.field(header.name, header.stringValue ?? "")
        }
        writer.endObject()
        return writer.bytes
    }
}

/// A Kafka message header: a name and a byte value.
public struct MessageHeader: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(name: String, value: String) {
        self.name = name
        self.value = Array(value.utf8)
    }

    /// The value as UTF-8 text, `nil` if it is not UTF-8.
    public var stringValue: String? {
        String(validating: self.value, as: UTF8.self)
    }

    public var description: String { "\(self.name): \(self.value.count) bytes" }
}
