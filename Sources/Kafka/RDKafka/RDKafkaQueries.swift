import CRdKafka

/// Blocking metadata queries shared by the consumer and the admin client.
enum RDKafkaQueries {
    static func watermarks(
        handle: RDKafkaHandle, blocking: BlockingCalls, _ partition: TopicPartition, _ timeoutMilliseconds: Int32
    ) async throws(KafkaError) -> KafkaWatermarks {
        let result: Result<KafkaWatermarks, KafkaError>
        do {
            result = try await blocking.run {
                var low: Int64 = 0
                var high: Int64 = 0
                let err = rd_kafka_query_watermark_offsets(
                    handle.pointer, partition.topic, partition.partition, &low, &high, timeoutMilliseconds)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    return .failure(KafkaError.rdkafka(err, code: .query, context: "watermarks of \(partition)"))
                }
                return .success(KafkaWatermarks(low: low, high: high))
            }
        } catch {
            throw KafkaError(code: .closed, reason: "client is closed")
        }
        return try result.get()
    }

    static func partitionCounts(
        handle: RDKafkaHandle, blocking: BlockingCalls, _ topics: [String], _ timeoutMilliseconds: Int32
    ) async throws(KafkaError) -> [String: Int] {
        let result: Result<[String: Int], KafkaError>
        do {
            result = try await blocking.run {
                var metadata: UnsafePointer<rd_kafka_metadata>? = nil
                let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeoutMilliseconds)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                    return .failure(KafkaError.rdkafka(err, code: .query, context: "metadata"))
                }
                defer { rd_kafka_metadata_destroy(metadata) }
                var counts: [String: Int] = [:]
                let wanted = Set(topics)
                for i in 0..<Int(metadata.pointee.topic_cnt) {
                    let topic = metadata.pointee.topics[i]
                    let name = String(cString: topic.topic)
                    if wanted.isEmpty || wanted.contains(name), topic.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                        counts[name] = Int(topic.partition_cnt)
                    }
                }
                return .success(counts)
            }
        } catch {
            throw KafkaError(code: .closed, reason: "client is closed")
        }
        return try result.get()
    }
}
