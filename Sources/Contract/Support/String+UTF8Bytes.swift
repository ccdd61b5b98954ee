extension String {
    /// Calls `body` with the string's UTF-8 bytes, copying only a non-contiguous (bridged) string.
    func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        var copy = self
        return try copy.withUTF8(body)
    }

    /// The number of Unicode scalars (code points): how JSON Schema counts `minLength`/`maxLength`.
    var scalarCount: Int {
        self.withUTF8Bytes { bytes in
            // Every scalar has exactly one UTF-8 lead byte.
            var count = 0
            for byte in bytes where byte & 0xC0 != 0x80 { count += 1 }
            return count
        }
    }
}
