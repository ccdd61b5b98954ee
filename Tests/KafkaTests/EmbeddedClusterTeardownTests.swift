import Foundation
import Kafka
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The embedded cluster outlives its clients")
struct EmbeddedClusterTeardownTests {
    /// Whether something accepts TCP connections at `address` (`host:port`).
    static func accepts(_ address: String) -> Bool {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = inet_addr(String(parts[0]))
        return withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    @Test("its clients are counted until their handles are destroyed")
    func countsClients() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        #expect(cluster.liveClients == 0)
        var producer: KafkaProducer? = try KafkaProducer(
            configuration: .init(bootstrapServers: [cluster.bootstrapServers]), logger: testLogger("producer"))
        #expect(cluster.liveClients == 1)
        #expect(await cluster.waitForClients(timeout: .milliseconds(100)) == false)
        await producer?.close()
        producer = nil
        #expect(await cluster.waitForClients(timeout: .seconds(10)))
        #expect(cluster.liveClients == 0)
    }

    @Test("released while a client lives, it keeps serving until that client is gone, then stops")
    func waitsForClientsBeforeTearingDown() async throws {
        var cluster: EmbeddedKafkaCluster? = try EmbeddedKafkaCluster(brokers: 1, logger: testLogger("cluster"))
        let address = try #require(cluster?.bootstrapServers)
        var producer: KafkaProducer? = try KafkaProducer(
            configuration: .init(bootstrapServers: [address]), logger: testLogger("producer"))
        #expect(Self.accepts(address))
        cluster = nil
        let releasedAt = ContinuousClock.now
        // The client lives on: its broker must not vanish under it.
        try await Task.sleep(for: .milliseconds(300))
        // A few tries: on a loaded machine the broker's thread may not take a connection at once,
        // while a cluster torn down never accepts one again.
        var accepted = Self.accepts(address)
        for _ in 0..<20 where !accepted {
            try await Task.sleep(for: .milliseconds(100))
            accepted = Self.accepts(address)
        }
        #expect(accepted, "the cluster closed its port while a client of it was alive (\(releasedAt.duration(to: .now)) after its release)")
        await producer?.close()
        producer = nil
        let until = ContinuousClock.now + .seconds(15)
        while Self.accepts(address), ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!Self.accepts(address), "the cluster is torn down once its clients are gone")
    }
}
