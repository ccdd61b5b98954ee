import Foundation
import NIOCore
import PostgresNIO

/// A one-dimensional array parameter in PostgreSQL's binary array format, its elements written in
/// one pass over raw memory.
///
/// PostgresNIO's `Array` encoding writes every element through `ByteBuffer`'s checked setters
/// (a length placeholder, the value, the length again: three exclusivity-checked writes per
/// element). The group commit binds some forty arrays of a few hundred elements per batch on the
/// recorder's serial path, so those writes showed in its profile (docs/benchmarks.md, "Packed
/// arrays"). The bytes are the same as PostgresNIO's; `PackedArrayTests` compares them.
struct PackedArray: PostgresDynamicTypeEncodable {
    private enum Elements {
        case text([String])
        case bytes([[UInt8]])
        case int64([Int64])
        case int32([Int32])
        case bool([Bool])
        case uuid([UUID])
        case timestamp([Date])
    }

    private let elements: Elements
    var psqlFormat: PostgresFormat { .binary }

    init(_ values: [String]) { elements = .text(values) }
    init(_ values: [[UInt8]]) { elements = .bytes(values) }
    init(_ values: [Int64]) { elements = .int64(values) }
    init(_ values: [Int32]) { elements = .int32(values) }
    init(_ values: [Bool]) { elements = .bool(values) }
    init(_ values: [UUID]) { elements = .uuid(values) }
    init(_ values: [Date]) { elements = .timestamp(values) }

    /// The array's type, and its elements'.
    private var types: (array: PostgresDataType, element: PostgresDataType) {
        switch elements {
        case .text: (.textArray, .text)
        case .bytes: (.byteaArray, .bytea)
        case .int64: (.int8Array, .int8)
        case .int32: (.int4Array, .int4)
        case .bool: (.boolArray, .bool)
        case .uuid: (.uuidArray, .uuid)
        case .timestamp: (.timestamptzArray, .timestamptz)
        }
    }

    var psqlType: PostgresDataType { types.array }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        let elementType = types.element
        switch elements {
        case .text(let values):
            Self.write(values, into: &buffer, type: elementType, size: { $0.utf8.count }) { value, out in
                var value = value
                value.withUTF8 { out.copyMemory(from: UnsafeRawBufferPointer($0)) }
            }
        case .bytes(let values):
            Self.write(values, into: &buffer, type: elementType, size: { $0.count }) { value, out in
                value.withUnsafeBytes { out.copyMemory(from: $0) }
            }
        case .int64(let values):
            Self.write(values, into: &buffer, type: elementType, size: { _ in 8 }) { value, out in
                out.storeBytes(of: value.bigEndian, as: Int64.self)
            }
        case .int32(let values):
            Self.write(values, into: &buffer, type: elementType, size: { _ in 4 }) { value, out in
                out.storeBytes(of: value.bigEndian, as: Int32.self)
            }
        case .bool(let values):
            Self.write(values, into: &buffer, type: elementType, size: { _ in 1 }) { value, out in
                out.storeBytes(of: value ? 1 : 0, as: UInt8.self)
            }
        case .uuid(let values):
            Self.write(values, into: &buffer, type: elementType, size: { _ in 16 }) { value, out in
                withUnsafeBytes(of: value.uuid) { out.copyMemory(from: $0) }
            }
        case .timestamp(let values):
            Self.write(values, into: &buffer, type: elementType, size: { _ in 8 }) { value, out in
                // As PostgresNIO encodes a `Date`: microseconds since 2000-01-01, truncated.
                let micros = Int64(value.timeIntervalSince(Self.postgresEpoch) * 1_000_000)
                out.storeBytes(of: micros.bigEndian, as: Int64.self)
            }
        }
    }

    private static let postgresEpoch = Date(timeIntervalSince1970: 946_684_800)

    /// The array header, then each element as its length and bytes, in one reserved region.
    private static func write<Element>(
        _ values: [Element], into buffer: inout ByteBuffer, type: PostgresDataType, size: (Element) -> Int,
        body: (Element, UnsafeMutableRawBufferPointer) -> Void
    ) {
        // Dimensions (0 for an empty array), the has-nulls flag, the element type.
        buffer.writeMultipleIntegers(UInt32(values.isEmpty ? 0 : 1), Int32(0), type.rawValue)
        guard !values.isEmpty else { return }
        // One dimension: its length and lower bound.
        buffer.writeMultipleIntegers(Int32(values.count), Int32(1))
        var total = 0
        for value in values { total += 4 + size(value) }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var offset = 0
            for value in values {
                let length = size(value)
                out.storeBytes(of: Int32(length).bigEndian, toByteOffset: offset, as: Int32.self)
                body(value, UnsafeMutableRawBufferPointer(rebasing: out[(offset + 4)..<(offset + 4 + length)]))
                offset += 4 + length
            }
            return total
        }
    }
}

extension StatementBuilder {
    /// Arrays bind as ``PackedArray``s: the group commit's many columns are written in one pass each.
    mutating func bind(_ values: [String]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [[UInt8]]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [Int64]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [Int32]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [Bool]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [UUID]) -> String { bind(PackedArray(values)) }
    mutating func bind(_ values: [Date]) -> String { bind(PackedArray(values)) }
}
