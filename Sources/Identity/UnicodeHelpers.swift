/// Unicode facts the hot path needs, without the cost of a property lookup per scalar.
enum UnicodeHelpers {
    /// Unicode `White_Space` (stable since Unicode 6.3): tab to carriage return, space, U+0085,
    /// no-break space, U+1680, U+2000–U+200A, line and paragraph separators, U+202F, U+205F, U+3000.
    @inline(__always)
    static func isWhiteSpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}
