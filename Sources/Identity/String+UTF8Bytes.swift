extension String {
    /// Calls `body` with the string's UTF-8 bytes, making a contiguous copy only when the string
    /// is not already stored contiguously (bridged strings).
    func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        var copy = self
        return try copy.withUTF8(body)
    }
}
