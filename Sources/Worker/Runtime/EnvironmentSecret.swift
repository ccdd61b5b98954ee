import Foundation

/// A secret given either directly (`NAME`) or as a file (`NAME_FILE`, the Docker and Kubernetes
/// convention for mounted secrets): `REGISTRY_TOKEN`, `SUBJECT_REF_KEY`, `KAFKA_SASL_PASSWORD`,
/// `DATABASE_PASSWORD`.
///
/// The file's content is used with trailing line breaks and blanks removed. Setting both is a
/// start-up error naming both; so is a file that cannot be read or is empty. The secret itself never
/// appears in an error.
public enum EnvironmentSecret {
    /// The secret, or `nil` when neither `name` nor `name_FILE` is set (empty counts as unset).
    public static func value(_ name: String, environment: [String: String]) throws(SettingsError) -> String? {
        let fileVariable = name + "_FILE"
        let direct = environment[name].flatMap { $0.isEmpty ? nil : $0 }
        let path = environment[fileVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (direct, path) {
        case (nil, nil):
            return nil
        case (let value?, nil):
            return value
        case (_?, _?):
            throw SettingsError(setting: "\(name) and \(fileVariable)", problem: "are both set; set only one")
        case (nil, let path?):
            return try self.read(path, setting: fileVariable)
        }
    }

    /// The content of the secret file at `path`, trimmed at its end.
    public static func read(_ path: String, setting: String) throws(SettingsError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SettingsError(setting: setting, problem: "names a file that cannot be read (\(path))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SettingsError(setting: setting, problem: "names a file that is not UTF-8 text (\(path))")
        }
        var trimmed = Substring(text)
        while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
        guard !trimmed.isEmpty else { throw SettingsError(setting: setting, problem: "names an empty file (\(path))") }
        return String(trimmed)
    }
}
