import Kafka
import Tracing

/// Reads trace context (`traceparent`, `tracestate`) from a request's Kafka headers.
struct KafkaHeadersExtractor: Extractor {
    func extract(key: String, from carrier: [KafkaHeader]) -> String? {
        carrier.string(named: key)
    }
}
