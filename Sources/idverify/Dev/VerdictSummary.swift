import CommandSupport
import Contract
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// Reads the verdict and dead-letter topics and prints a line every few
/// seconds: verdicts by outcome, dead letters.
struct VerdictSummary: Service {
    let consumer: KafkaConsumer
    let topics: Topics

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var counts: [String: Int] = [:]
            var deadLetters = 0
            var lastPrint = ContinuousClock.now
            var iterator = consumer.events.makeAsyncIterator()
            while !Task.isCancelled {
                let events = await iterator.nextBatch()
                if events.isEmpty { break }
                for case .message(let message) in events {
                    if message.topic == topics.deadLetter {
                        deadLetters += 1
                    } else if let verdict = try? Verdict(json: message.value) {
                        counts[verdict.outcome.rawValue, default: 0] += 1
                    }
                }
                if lastPrint.duration(to: .now) > .seconds(3) {
                    lastPrint = .now
                    let outcomes = Verdict.Outcome.allCases.map { "\($0.rawValue) \(counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")
                    Console.line("verdicts: \(outcomes) | dead letters \(deadLetters)")
                }
            }
        }
        await consumer.close()
    }
}
