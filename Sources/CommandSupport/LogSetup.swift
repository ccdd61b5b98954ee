import Foundation
import Logging
import Ops
import Telemetry
import Tracing

/// Log output for an executable (`idverify`, `idverify-bench`): `LOG_LEVEL` (trace…critical,
/// default info) and `LOG_FORMAT` (`text` or `json`, default text), or the `--log-level`
/// and `--log-format` flags. Libraries get injected loggers; only this file
/// bootstraps the logging system, and the tracer that continues each request's `traceparent`
/// (its ids reach every line logged about a request through the metadata provider).
public enum LogSetup {
    public static func bootstrap(level: String?, format: String?) throws -> Logger {
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

/// A quiet logger for operator commands and benchmarks: their output is a table or figures, not
/// log lines (`LOG_LEVEL` overrides the default `error`).
public func operatorLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

/// A command could not set itself up (a bad flag or setting, a missing helper script): the
/// message names what to fix.
public struct SetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Lines for a person watching the terminal: written at once, not buffered
/// (so a pipe or file sees them as they happen).
public enum Console {
    public static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
