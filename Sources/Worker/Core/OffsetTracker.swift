import Kafka

/// Per partition, which offsets are read and which are done, so that the
/// commit is always the highest offset below which everything is done.
/// A plain struct: the pipeline keeps it behind a lock.
struct OffsetTracker: Sendable {
    private struct PartitionState: Sendable {
        /// Offsets read and not yet done, in read order (Kafka delivers in offset order).
        var pending: [Int64] = []
        var head = 0
        var done: Set<Int64> = []
        /// One past the highest offset read.
        var next: Int64 = -1
        var lastCommitted: Int64 = -1

        mutating func received(_ offset: Int64) {
            pending.append(offset)
            next = max(next, offset + 1)
        }

        mutating func completed(_ offset: Int64) {
            done.insert(offset)
            compact()
        }

        mutating func compact() {
            while head < pending.count, done.remove(pending[head]) != nil { head += 1 }
            if head > 1024, head * 2 > pending.count {
                pending.removeFirst(head)
                head = 0
            }
        }

        var committable: Int64? {
            if next < 0 { return nil }
            return head < pending.count ? pending[head] : next
        }

        /// Read and not done. Offsets done above the lowest unfinished one wait in `done` until it
        /// is: they are not in flight (counting them made a revocation wait for requests that
        /// had finished, behind one handed back unfinished, until its timeout).
        var inFlight: Int { max(0, pending.count - head - done.count) }
    }

    private var partitions: [TopicPartition: PartitionState] = [:]

    // The partition's state is changed in place, through the dictionary's subscript: a copy taken
    // out of it shared its storage, so each append or insert copied the whole array or set.

    /// A message was read.
    mutating func received(_ partition: TopicPartition, offset: Int64) {
        partitions[partition, default: PartitionState()].received(offset)
    }

    /// A message is finished (recorded, dead-lettered, parked or re-emitted).
    mutating func completed(_ partition: TopicPartition, offset: Int64) {
        partitions[partition]?.completed(offset)
    }

    /// Offsets to commit that moved since the last commit.
    mutating func takeCommittable(_ only: Set<TopicPartition>? = nil) -> [TopicPartitionOffset] {
        var result: [TopicPartitionOffset] = []
        for (partition, var state) in partitions where only?.contains(partition) ?? true {
            guard let offset = state.committable, offset > state.lastCommitted else { continue }
            state.lastCommitted = offset
            partitions[partition] = state
            result.append(TopicPartitionOffset(partition, offset: offset))
        }
        return result
    }

    /// Puts offsets back as not committed (the commit failed).
    mutating func commitFailed(_ offsets: [TopicPartitionOffset]) {
        for offset in offsets {
            partitions[offset.topicPartition]?.lastCommitted = -1
        }
    }

    /// Requests read and not finished, in these partitions (or all).
    func inFlight(_ only: Set<TopicPartition>? = nil) -> Int {
        partitions.reduce(0) { sum, entry in
            (only?.contains(entry.key) ?? true) ? sum + entry.value.inFlight : sum
        }
    }

    /// Whether the partition is tracked (assigned and read from, not forgotten).
    func tracks(_ partition: TopicPartition) -> Bool { partitions[partition] != nil }

    /// Forgets partitions that were revoked.
    mutating func remove(_ revoked: [TopicPartition]) {
        for partition in revoked { partitions.removeValue(forKey: partition) }
    }
}
