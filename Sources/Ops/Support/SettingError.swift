/// A setting that is missing or cannot work, found at start-up. The message names the setting
/// (its environment variable, and the flag where there is one).
public struct SettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var setting: String
    public var message: String

    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    /// The setting was not given.
    public static func missing(_ setting: String, flag: String? = nil) -> SettingError {
        let hint = flag.map { " (or pass \($0))" } ?? ""
        return SettingError(setting: setting, message: "\(setting) is not set\(hint)")
    }

    /// The setting's value cannot work.
    public static func invalid(_ setting: String, _ reason: String) -> SettingError {
        SettingError(setting: setting, message: "\(setting) \(reason)")
    }

    public var description: String { self.message }
}
