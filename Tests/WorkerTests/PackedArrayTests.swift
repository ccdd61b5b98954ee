import Foundation
import NIOCore
import PostgresNIO
import Testing

@testable import Store

@Suite("Array parameters written in one pass: the same bytes as PostgresNIO's encoding")
struct PackedArrayTests {
    /// `value` as PostgresNIO binds it, and as ``PackedArray`` does: type, format and bytes.
    static func bothEncodings<Value: PostgresDynamicTypeEncodable>(_ value: Value, _ packed: PackedArray) -> (ByteBuffer, ByteBuffer) {
        var theirs = PostgresBindings()
        theirs.append(value)
        var ours = PostgresBindings()
        ours.append(packed)
        #expect(packed.psqlType == value.psqlType)
        #expect(packed.psqlFormat == value.psqlFormat)
        var expected = ByteBuffer()
        value.encode(into: &expected, context: .default)
        var actual = ByteBuffer()
        packed.encode(into: &actual, context: .default)
        return (expected, actual)
    }

    @Test("text, including empty, multi-byte and long strings, and the empty array")
    func text() {
        let cases: [[String]] = [
            [], [""], ["a"], ["Nguyễn Văn An", "", "H23.45.10", String(repeating: "đ", count: 300)],
            (0..<500).map { "request-\($0)" },
        ]
        for values in cases {
            let (expected, actual) = Self.bothEncodings(values, PackedArray(values))
            #expect(actual == expected, "\(values.count) strings")
        }
    }

    @Test("bytea from byte arrays, fixed-width integers and booleans")
    func bytesAndIntegers() {
        let bytes: [[UInt8]] = [[], [0], Array(0...255), [0xff, 0x00, 0x7f]]
        let (e1, a1) = Self.bothEncodings(bytes.map { ByteBuffer(bytes: $0) }, PackedArray(bytes))
        #expect(a1 == e1)
        let int64s: [Int64] = [0, 1, -1, .max, .min, 1_234_567_890_123]
        let (e2, a2) = Self.bothEncodings(int64s, PackedArray(int64s))
        #expect(a2 == e2)
        let int32s: [Int32] = [0, 7, -7, .max, .min]
        let (e3, a3) = Self.bothEncodings(int32s, PackedArray(int32s))
        #expect(a3 == e3)
        let bools = [true, false, false, true]
        let (e4, a4) = Self.bothEncodings(bools, PackedArray(bools))
        #expect(a4 == e4)
        let (e5, a5) = Self.bothEncodings([Int64](), PackedArray([Int64]()))
        #expect(a5 == e5)
    }

    @Test("uuids, and timestamps before and after 2000 with fractions of a microsecond")
    func uuidsAndDates() {
        let uuids = [UUID(), UUID(uuidString: "0b6c7c1e-8f5a-4d8e-9c4b-2f1d3e4a5b6c")!, UUID()]
        let (e1, a1) = Self.bothEncodings(uuids, PackedArray(uuids))
        #expect(a1 == e1)
        let dates = [
            Date(), Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 946_684_800),
            Date(timeIntervalSince1970: 946_684_799.999_999_7), Date(timeIntervalSince1970: 1_796_661_240.123_456_9),
        ]
        let (e2, a2) = Self.bothEncodings(dates, PackedArray(dates))
        #expect(a2 == e2)
    }
}
