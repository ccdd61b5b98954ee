import CRdKafka
import Foundation

/// A consumed message still in librdkafka's memory. The poll thread hands it
/// over uncopied, so that the copy into Swift values is made (and later freed)
/// on the consuming task's thread: copying on the poll thread made it allocate
/// what another thread frees, which cost it a third of its time in the
/// allocator and let librdkafka's queue run over `queued.min.messages`, where
/// librdkafka 2.0.2 stops fetching for about half a second.
///
/// Owned by exactly one holder at a time (the poll thread, then the buffer,
/// then the taker) and destroyed exactly once, by `RDKafkaMessageReader.read`,
/// always before the handle it came from is destroyed.
struct RDKafkaMessage: @unchecked Sendable {  // moved between threads, never shared
    let pointer: UnsafeMutablePointer<rd_kafka_message_t>
}

/// Copies librdkafka messages into `KafkaMessage`s. Remembers the few topic
/// names it has seen, so that a message's topic is a shared `String` rather
/// than a new one per message.
struct RDKafkaMessageReader {
    private var topics: [(name: [CChar], string: String)] = []

    /// Copies everything an application reads (topic, partition, offset, key,
    /// value, headers, timestamp) and destroys the librdkafka message.
    mutating func read(_ message: RDKafkaMessage) -> KafkaMessage {
        let pointer = message.pointer
        defer { rd_kafka_message_destroy(pointer) }
        let m = pointer.pointee
        return KafkaMessage(
            topic: m.rkt.map { topic(rd_kafka_topic_name($0)) } ?? "",
            partition: m.partition, offset: m.offset,
            key: m.key.map { Self.bytes($0, m.key_len) },
            value: m.payload.map { Self.bytes($0, m.len) } ?? [],
            headers: Self.headers(pointer),
            timestampMilliseconds: tthc_message_timestamp(pointer),
            isTombstone: m.payload == nil
        )
    }

    /// The buffered entries as events, in order, with every message copied.
    mutating func events(from entries: [ConsumerBufferEntry]) -> [KafkaConsumerEvent] {
        var events: [KafkaConsumerEvent] = []
        events.reserveCapacity(entries.count)
        for entry in entries {
            switch entry {
            case .message(let message): events.append(.message(read(message)))
            case .event(let event): events.append(event)
            }
        }
        return events
    }

    /// Compared by content, not by `rd_kafka_topic_t` address (which librdkafka may reuse).
    private mutating func topic(_ name: UnsafePointer<CChar>) -> String {
        for entry in topics where strcmp(entry.name, name) == 0 { return entry.string }
        let string = String(cString: name)
        if topics.count < 16 {
            topics.append((Array(UnsafeBufferPointer(start: name, count: strlen(name) + 1)), string))
        }
        return string
    }

    /// `Array(UnsafeRawBufferPointer)` is specialised for bytes; the
    /// `unsafeUninitializedCapacity` initialiser looked up generic metadata per call.
    private static func bytes(_ start: UnsafeMutableRawPointer, _ count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: start, count: count))
    }

    private static func headers(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var hdrs: OpaquePointer? = nil
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var headers: [KafkaHeader] = []
        headers.reserveCapacity(rd_kafka_header_cnt(hdrs))
        var index = 0
        var name: UnsafePointer<CChar>? = nil
        var value: UnsafeRawPointer? = nil
        var size = 0
        while rd_kafka_header_get_all(hdrs, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.append(KafkaHeader(
                name: name.map { String(cString: $0) } ?? "",
                value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            index += 1
        }
        return headers
    }
}
