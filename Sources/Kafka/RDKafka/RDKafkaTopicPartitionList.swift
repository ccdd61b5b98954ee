import CRdKafka

/// Conversions between Swift values and `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
    /// Calls `body` with a list built from `entries` and destroys it afterwards.
    static func with<R>(
        _ entries: [(TopicPartition, Int64)], _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> R
    ) rethrows -> R {
        let list = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (tp, offset) in entries {
            let element = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
            element.pointee.offset = offset
        }
        return try body(list)
    }

    static func elements(
        _ list: UnsafePointer<rd_kafka_topic_partition_list_t>?
    ) -> [(TopicPartition, Int64, rd_kafka_resp_err_t)] {
        guard let list, list.pointee.cnt > 0 else { return [] }
        var result: [(TopicPartition, Int64, rd_kafka_resp_err_t)] = []
        result.reserveCapacity(Int(list.pointee.cnt))
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            result.append((TopicPartition(topic: String(cString: e.topic), partition: e.partition), e.offset, e.err))
        }
        return result
    }
}
