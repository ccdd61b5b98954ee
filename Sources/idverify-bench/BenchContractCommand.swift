import ArgumentParser
import Contract
import Foundation
import Identity

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `idverify-bench contract`: how many request values one thread reads and validates per second.
///
/// The corpus is built first (synthetic people, all three channels, names in NFC, and with
/// `--awkward-percent` some in NFD with full-width or grouped id numbers, plus
/// `--invalid-percent` broken ones); then a single thread reads it round-robin for `--seconds`
/// and prints the rate. Only reading is measured: UTF-8 check, JSON parse, every field rule and
/// identity rule.
struct BenchContractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contract",
        abstract: "Measure reading and validating requests per second on one thread."
    )

    @Option(help: "How long each round measures, in seconds.")
    var seconds: Double = 1

    @Option(help: "Rounds to measure; the best and the median are reported (other processes on the machine only ever slow a round down).")
    var rounds: Int = 5

    @Option(help: "Number of distinct messages in the corpus.")
    var corpusSize: Int = 10_000

    @Option(help: "Share of messages (percent) that break rules and get an invalid verdict.")
    var invalidPercent: Int = 10

    @Option(help: "Share of valid messages (percent) written the hard way: NFD names, odd spacing, full-width or grouped id numbers.")
    var awkwardPercent: Int = 10

    @Flag(help: "Also measure Foundation's JSONSerialization parsing the same corpus (parse only, no rules), for comparison.")
    var foundationBaseline = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard self.seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard self.rounds > 0 else { throw ValidationError("--rounds must be positive") }
        guard self.corpusSize > 0 else { throw ValidationError("--corpus-size must be positive") }
        guard (0...100).contains(self.invalidPercent), (0...100).contains(self.awkwardPercent) else {
            throw ValidationError("percentages must be 0...100")
        }
    }

    func run() async throws {
        let corpus = ContractBenchCorpus.build(
            size: self.corpusSize,
            invalidPercent: self.invalidPercent,
            awkwardPercent: self.awkwardPercent
        )
        let duration = self.seconds
        var results: [ContractBenchResult] = []
        for _ in 0..<self.rounds {
            results.append(await Self.onOwnThread { ContractBench.measure(corpus: corpus, seconds: duration) })
        }
        results.sort { $0.perCPUSecond > $1.perCPUSecond }
        let best = results[0]
        let median = results[results.count / 2]
        if self.json {
            print(best.jsonLine.replacingOccurrences(of: "}", with: ",\"rounds\":\(results.count),\"medianPerCPUSecond\":\(String(format: "%.0f", median.perCPUSecond))}"))
        } else {
            print("best of \(results.count) rounds:")
            print(best.report)
            print("  median round: \(String(format: "%.0f", median.perCPUSecond)) requests per CPU-second; all rounds: "
                + results.map { String(format: "%.0f", $0.perCPUSecond) }.joined(separator: ", "))
            print("  load average: \(ContractBench.loadAverage())")
        }
        if self.foundationBaseline {
            let baseline = await Self.onOwnThread { ContractBench.measureFoundation(corpus: corpus, seconds: duration) }
            print(self.json ? baseline.jsonLine.replacingOccurrences(of: "\"contract\"", with: "\"foundation-jsonserialization\"")
                : "Foundation JSONSerialization, parse only: \(String(format: "%.0f", baseline.perCPUSecond)) messages per CPU-second")
        }
    }

    /// A measurement blocks its thread for seconds: it gets a thread of its own rather than one
    /// of the cooperative pool's.
    private static func onOwnThread(_ body: @escaping @Sendable () -> ContractBenchResult) async -> ContractBenchResult {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "bench-contract"
            thread.start()
        }
    }
}

struct ContractBenchMessage: Sendable {
    var channel: Channel
    var value: [UInt8]
}

enum ContractBenchCorpus {
    static func build(size: Int, invalidPercent: Int, awkwardPercent: Int) -> [ContractBenchMessage] {
        var synthetic = SyntheticRequests(seed: 42)
        var messages: [ContractBenchMessage] = []
        messages.reserveCapacity(size)
        for index in 0..<size {
            let channel = Channel.allCases[index % 3]
            let request = synthetic.request(on: channel)
            var value = request.encodedJSON()
            let roll = (index * 7919) % 100
            if roll < invalidPercent {
                value = self.broken(request, variant: index)
            } else if roll < invalidPercent + awkwardPercent {
                value = self.awkward(request)
            }
            messages.append(ContractBenchMessage(channel: channel, value: value))
        }
        return messages
    }

    /// The same person written the way careless front ends write them.
    private static func awkward(_ request: VerificationRequest) -> [UInt8] {
        var copy = request
        let digits = Array(request.subject.idNumber)
        copy.subject.fullName = "  " + request.subject.fullName.decomposedStringWithCanonicalMapping.uppercased()
            .replacingOccurrences(of: " ", with: "\t ") + " "
        // Full-width digits in groups of three.
        let fullWidth = digits.map { Character(Unicode.Scalar(0xFF10 + UInt32(String($0))!)!) }
        copy.subject.idNumber = stride(from: 0, to: fullWidth.count, by: 3)
            .map { String(fullWidth[$0..<min($0 + 3, fullWidth.count)]) }
            .joined(separator: ".")
        return copy.encodedJSON()
    }

    /// A request with some rule broken, so that the invalid path is measured too.
    private static func broken(_ request: VerificationRequest, variant: Int) -> [UInt8] {
        var copy = request
        switch variant % 5 {
        case 0: copy.subject.fullName = "Nguyễn"
        case 1: copy.subject.idNumber = "999" + request.subject.idNumber.dropFirst(3)
        case 2: copy.agencyCode = "agency with spaces"
        case 3: copy.requestId = "not-a-uuid"
        default: copy.subject.fullName = "Nguyễn Văn 3"
        }
        return copy.encodedJSON()
    }
}

struct ContractBenchResult: Sendable {
    var messages: Int
    var bytes: Int
    var elapsed: Duration
    /// CPU time the measuring thread itself used: on a busy machine the thread is not always
    /// running, and messages per CPU-second is the rate of one core.
    var cpuSeconds: Double = 0
    var requests: Int
    var invalid: Int
    var deadLetters: Int

    var seconds: Double {
        Double(self.elapsed.components.seconds) + Double(self.elapsed.components.attoseconds) / 1e18
    }

    var perSecond: Double { Double(self.messages) / self.seconds }

    var perCPUSecond: Double { self.cpuSeconds > 0 ? Double(self.messages) / self.cpuSeconds : self.perSecond }

    var report: String {
        """
        contract read+validate, 1 thread
          messages:     \(self.messages) in \(String(format: "%.2f", self.seconds)) s
          rate:         \(String(format: "%.0f", self.perCPUSecond)) requests per CPU-second of the thread (\(String(format: "%.0f", 1e9 / self.perCPUSecond)) ns each)
          wall clock:   \(String(format: "%.0f", self.perSecond)) requests/s (the thread ran \(String(format: "%.0f", 100 * self.cpuSeconds / self.seconds))% of the time)
          throughput:   \(String(format: "%.1f", Double(self.bytes) / self.seconds / 1_048_576)) MiB/s, \(self.bytes / max(self.messages, 1)) bytes average
          results:      \(self.requests) request, \(self.invalid) invalid, \(self.deadLetters) dead letter
        """
    }

    var jsonLine: String {
        "{\"benchmark\":\"contract\",\"messages\":\(self.messages),\"seconds\":\(String(format: "%.3f", self.seconds)),"
            + "\"perSecond\":\(String(format: "%.0f", self.perSecond)),\"perCPUSecond\":\(String(format: "%.0f", self.perCPUSecond)),"
            + "\"cpuSeconds\":\(String(format: "%.3f", self.cpuSeconds)),\"requests\":\(self.requests),"
            + "\"invalid\":\(self.invalid),\"deadLetters\":\(self.deadLetters)}"
    }
}

enum ContractBench {
    /// The 1-minute load average, to read the figures against.
    static func loadAverage() -> String {
        var loads = [Double](repeating: 0, count: 3)
        guard getloadavg(&loads, 3) == 3 else { return "unknown" }
        return loads.map { String(format: "%.2f", $0) }.joined(separator: " ")
    }

    /// CPU time used so far by the calling thread.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func measureFoundation(corpus: [ContractBenchMessage], seconds: Double) -> ContractBenchResult {
        let values = corpus.map { Data($0.value) }
        let clock = ContinuousClock()
        var result = ContractBenchResult(messages: 0, bytes: 0, elapsed: .zero, requests: 0, invalid: 0, deadLetters: 0)
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        let start = clock.now
        let cpuStart = self.threadCPUSeconds()
        var index = 0
        while true {
            for _ in 0..<256 {
                if (try? JSONSerialization.jsonObject(with: values[index])) is [String: Any] {
                    result.requests += 1
                } else {
                    result.deadLetters += 1
                }
                result.bytes += values[index].count
                index = (index + 1) % values.count
            }
            result.messages += 256
            let elapsed = clock.now - start
            if elapsed >= budget {
                result.elapsed = elapsed
                result.cpuSeconds = self.threadCPUSeconds() - cpuStart
                return result
            }
        }
    }

    static func measure(corpus: [ContractBenchMessage], seconds: Double) -> ContractBenchResult {
        let reader = RequestReader()
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let clock = ContinuousClock()
        // Warm up: one pass over the corpus.
        for message in corpus { _ = reader.read(value: message.value, topic: message.channel, now: now) }

        var result = ContractBenchResult(messages: 0, bytes: 0, elapsed: .zero, requests: 0, invalid: 0, deadLetters: 0)
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        let start = clock.now
        let cpuStart = self.threadCPUSeconds()
        var index = 0
        while true {
            // Check the clock every 1,024 messages only.
            for _ in 0..<1024 {
                let message = corpus[index]
                switch reader.read(value: message.value, topic: message.channel, now: now) {
                case .request: result.requests += 1
                case .invalid: result.invalid += 1
                case .deadLetter: result.deadLetters += 1
                }
                result.bytes += message.value.count
                index += 1
                if index == corpus.count { index = 0 }
            }
            result.messages += 1024
            let elapsed = clock.now - start
            if elapsed >= budget {
                result.elapsed = elapsed
                result.cpuSeconds = self.threadCPUSeconds() - cpuStart
                return result
            }
        }
    }
}
