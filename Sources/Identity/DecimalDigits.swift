/// Fixed-width decimal fields written straight into a string's buffer: dates and timestamps are
/// formatted once per verdict, and concatenating padded pieces allocated a string for each.
public enum DecimalDigits {
    /// Writes `value` zero-padded to `width` digits at `index` (the caller keeps `value` within
    /// `0..<10^width`).
    @inlinable
    public static func write(_ value: Int, width: Int, into out: UnsafeMutableBufferPointer<UInt8>, at index: Int) {
        var rest = value
        for position in stride(from: index + width - 1, through: index, by: -1) {
            out[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}
