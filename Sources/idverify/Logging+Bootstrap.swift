import Foundation
import Logging

/// Log output for the executable: `LOG_LEVEL` (trace…critical, default info)
/// and `LOG_FORMAT` (`text` or `json`, default text), or the `--log-level`
/// and `--log-format` flags. Libraries get injected loggers; only this file
/// bootstraps the logging system.
enum LogSetup {
    static func bootstrap(level: String?, format: String?) throws -> Logger {
        let environment = ProcessInfo.processInfo.environment
        let levelText = level ?? environment["LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw SetupError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
        }
        let formatText = (format ?? environment["LOG_FORMAT"] ?? "text").lowercased()
        guard ["text", "json"].contains(formatText) else { throw SetupError("LOG_FORMAT must be text or json") }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                formatText == "json" ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "idverify")
        logger.logLevel = level
        return logger
    }
}

struct SetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One JSON object per line on standard error: time, level, label, message and metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue, "label": label,
            "message": event.message.description,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

/// Lines for a person watching the terminal: written at once, not buffered
/// (so a pipe or file sees them as they happen).
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
