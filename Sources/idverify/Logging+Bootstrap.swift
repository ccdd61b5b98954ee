import Foundation
import Logging
import Ops
import Telemetry
import Tracing

/// Log output for the executable: `LOG_LEVEL` (trace…critical, default info)
/// and `LOG_FORMAT` (`text` or `json`, default text), or the `--log-level`
/// and `--log-format` flags. Libraries get injected loggers; only this file
/// bootstraps the logging system, and the tracer that continues each request's `traceparent`
/// (its ids reach every line logged about a request through the metadata provider).
enum LogSetup {
    static func bootstrap(level: String?, format: String?) throws -> Logger {
        let settings: LogSettings
        do {
            settings = try LogSettings(formatFlag: format, levelFlag: level)
        } catch {
            throw SetupError(error.description)
        }
        LoggingSystem.bootstrap(
            { label, provider in settings.makeHandler(label: label, metadataProvider: provider) }, metadataProvider: .requestTrace)
        var logger = Logger(label: "idverify")
        logger.logLevel = settings.level
        InstrumentationSystem.bootstrap(W3CTracer(logger: logger))
        return logger
    }
}

struct SetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Lines for a person watching the terminal: written at once, not buffered
/// (so a pipe or file sees them as they happen).
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
