import Contract
import Foundation
import Logging
import Synchronization

/// Writes one JSON object per log line (to standard error by default), for log pipelines:
///
/// ```json
/// {"timestamp":"2026-11-29T02:15:00.123Z","level":"info","logger":"idverify","message":"Operations endpoints listening","ops.http.port":"8080","source":"Ops"}
/// ```
///
/// Metadata keys are written at the top level beside `timestamp`, `level`, `logger`, `message` and
/// `source` (the project's keys are namespaced, `ops.`, `registry.`, ..., so they cannot clash);
/// the handler's metadata provider (trace and request ids from task-locals, say) is applied
/// after the handler's metadata and before the call's own. An error attached to a log call is
/// written as `error` with its type, or its code for the project's error types: never contents.
///
/// Bootstrapped by the executable, never by a library:
///
/// ```swift
/// LoggingSystem.bootstrap({ label, provider in
///     JSONLogHandler(label: label, level: .info, metadataProvider: provider)
/// }, metadataProvider: tracingMetadataProvider)
/// ```
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: JSONLogOutput

    /// - Parameters:
    ///   - label: The logger's label (`logger` in each line).
    ///   - level: Default: `info`.
    ///   - metadataProvider: Applied to every line.
    ///   - output: Where the lines go. Default: standard error.
    public init(
        label: String, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
        output: JSONLogOutput = .standardError
    ) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }

        var line = "{"
        Self.appendField(&line, "timestamp", .string(JSONLogHandler.timestamp()), first: true)
        Self.appendField(&line, "level", .string(event.level.rawValue))
        Self.appendField(&line, "logger", .string(self.label))
        Self.appendField(&line, "message", .string(event.message.description))
        for key in merged.keys.sorted() where !Self.reserved.contains(key) {
            Self.appendField(&line, key, merged[key]!)
        }
        if let error = event.error { Self.appendField(&line, "error", .string(errorSummary(error))) }
        Self.appendField(&line, "source", .string(event.source))
        line += "}\n"
        self.output.write(line)
    }

    static let reserved: Set<String> = ["timestamp", "level", "logger", "message", "source", "error"]

    static func timestamp() -> String {
        Timestamp(Date()).text
    }

    static func appendField(_ line: inout String, _ key: String, _ value: Logger.Metadata.Value, first: Bool = false) {
        if !first { line += "," }
        appendString(&line, key)
        line += ":"
        appendValue(&line, value)
    }

    static func appendValue(_ line: inout String, _ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text):
            appendString(&line, text)
        case .stringConvertible(let convertible):
            appendString(&line, convertible.description)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendValue(&line, element)
            }
            line += "]"
        case .dictionary(let dictionary):
            line += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                appendString(&line, key)
                line += ":"
                appendValue(&line, dictionary[key]!)
            }
            line += "}"
        }
    }

    /// A JSON string literal (RFC 8259 escaping; non-ASCII written as is, UTF-8).
    static func appendString(_ line: inout String, _ text: String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}

/// Where ``JSONLogHandler`` writes: whole lines, one `write` each, under a lock so that lines of
/// concurrent tasks never interleave.
public final class JSONLogOutput: Sendable {
    private let sink: Mutex<(@Sendable (String) -> Void)>

    /// Writes to a file descriptor.
    public init(fileHandle: FileHandle) {
        self.sink = Mutex({ line in fileHandle.write(Data(line.utf8)) })
    }

    /// Hands each line to `sink` (for tests).
    public init(_ sink: @escaping @Sendable (String) -> Void) {
        self.sink = Mutex(sink)
    }

    public static let standardError = JSONLogOutput(fileHandle: .standardError)
    public static let standardOutput = JSONLogOutput(fileHandle: .standardOutput)

    func write(_ line: String) {
        self.sink.withLock { $0(line) }
    }
}

/// Log format and level from the environment and flags: `LOG_FORMAT` (`text` or `json`, default
/// `text`) and `LOG_LEVEL` (`trace` ... `critical`, default `info`), a flag winning over the
/// variable.
public struct LogSettings: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable, CaseIterable {
        case text
        case json
    }

    public var format: Format
    public var level: Logger.Level

    public init(format: Format = .text, level: Logger.Level = .info) {
        self.format = format
        self.level = level
    }

    /// Reads `LOG_FORMAT` and `LOG_LEVEL`, `formatFlag` and `levelFlag` overriding them.
    public init(
        formatFlag: String? = nil, levelFlag: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SettingError) {
        self.init()
        if let text = OpsSettings.value(formatFlag, variable: "LOG_FORMAT", environment: environment) {
            guard let format = Format(rawValue: text.lowercased()) else {
                throw SettingError.invalid("LOG_FORMAT", "must be text or json")
            }
            self.format = format
        }
        if let text = OpsSettings.value(levelFlag, variable: "LOG_LEVEL", environment: environment) {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw SettingError.invalid("LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.level = level
        }
    }

    /// The handler factory for `LoggingSystem.bootstrap` (which the executable calls, once).
    public func makeHandler(label: String, metadataProvider: Logger.MetadataProvider?) -> any LogHandler {
        switch self.format {
        case .json:
            return JSONLogHandler(label: label, level: self.level, metadataProvider: metadataProvider)
        case .text:
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
            handler.logLevel = self.level
            return handler
        }
    }
}
