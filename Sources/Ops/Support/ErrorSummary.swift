import Kafka
import PostgresNIO
import Registry

/// A short description of an error that is safe for logs, readiness bodies and HTTP answers:
/// codes and states only, never query text, bound values or message contents.
func errorSummary(_ error: any Error) -> String {
    switch error {
    case let error as PSQLError:
        if let state = error.serverInfo?[.sqlState] {
            return "PostgreSQL error \(state)"
        }
        return "PostgreSQL \(error.code)"
    case let error as KafkaError:
        return error.description
    case let error as RegistryError:
        return error.description
    case is CancellationError:
        return "cancelled"
    default:
        return String(describing: type(of: error))
    }
}
