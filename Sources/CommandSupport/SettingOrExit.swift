import ArgumentParser
import Ops

/// A missing or bad setting is a usage error naming the setting.
public func settingOrExit<T>(_ body: () throws(SettingError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError(error.message)
    }
}
