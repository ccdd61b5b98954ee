import Dispatch
import Synchronization

/// What a consumer delivers, in order.
public enum KafkaConsumerEvent: Sendable {
    /// A message from an assigned partition.
    case message(KafkaMessage)
    /// Partitions now assigned to this consumer.
    case assigned([TopicPartition])
    /// Partitions being taken away. Finish what was read from them, then call
    /// `revocation.done(committing:)` with the offsets to commit; the poll
    /// thread commits them synchronously inside the rebalance (the only place a
    /// commit is accepted while the group rebalances) and only then lets the
    /// rebalance go on, waiting up to the configured revocation timeout. When
    /// `lost` is true the partitions already belong to someone else: nothing is committed.
    case revoked([TopicPartition], revocation: KafkaRevocation, lost: Bool)
    /// A non-fatal client error (logged as well); fatal ones end the sequence.
    case error(KafkaError)
}

/// Lets the caller say it has finished with revoked partitions.
public final class KafkaRevocation: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let offsets = Mutex<[TopicPartitionOffset]>([])

    init() {}

    /// The caller has finished: commit these offsets (next offset to read, per
    /// partition; may be empty) and let the rebalance go on.
    public func done(committing offsets: [TopicPartitionOffset] = []) {
        self.offsets.withLock { $0 = offsets }
        semaphore.signal()
    }

    /// Blocks the poll thread until `done` or the timeout; returns the offsets
    /// to commit, or nil on timeout.
    func wait(timeoutMilliseconds: Int) -> [TopicPartitionOffset]? {
        guard semaphore.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success else { return nil }
        return offsets.withLock { $0 }
    }
}
