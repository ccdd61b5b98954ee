import NIOPosix

/// librdkafka calls that block (flush, synchronous commit, committed offsets,
/// watermark and metadata queries, close) run on this dedicated thread, never
/// on the cooperative pool.
final class BlockingCalls: Sendable {
    private let pool: NIOThreadPool

    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
