/// The member names the contract knows, recognised while parsing so that known names cost no
/// string allocation and field lookups compare small integers instead of strings.
enum FieldName: String, CaseIterable, Sendable {
    // Requests.
    case requestId, occurredAt, agencyCode, actor, kind, id, subject, fullName, idNumber, dateOfBirth
    case autofill, recipientKey, accountId, dossier, code, procedureCode, receivedAt, dueAt
    // Verdicts.
    case verdictId, channel, decidedAt, outcome, reasons, field, idNumberMasked, ref, attempts
    case encapsulatedKey, ciphertext, state, reusedFrom
    // Dossier events.
    case eventId, dossierCode, type

    /// Every name's spelling and a hash table over them, in one place (one lazy initialisation).
    private final class Table: Sendable {
        let names = FieldName.allCases
        let spellings: [[UInt8]] = FieldName.allCases.map { Array($0.rawValue.utf8) }
        /// Up to two candidates (case index + 1, low and high byte) per hash slot.
        let slots: [UInt16]

        init() {
            var slots = [UInt16](repeating: 0, count: 1 << 13)
            for (index, spelling) in self.spellings.enumerated() {
                let slot = spelling.withUnsafeBufferPointer { FieldName.hash($0) }
                let entry = UInt16(index + 1)
                if slots[slot] == 0 {
                    slots[slot] = entry
                } else {
                    precondition(slots[slot] >> 8 == 0, "three field names share a hash slot")
                    slots[slot] |= entry << 8
                }
            }
            self.slots = slots
        }
    }

    private static let table = Table()

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let count = bytes.count
        let mixed = bytes[0] ^ (bytes[count - 1] &<< 1) ^ bytes[count / 2]
        return (count & 31) << 8 | Int(mixed)
    }

    /// The known name spelled by these bytes (unescaped JSON string content), if any.
    static func match(_ bytes: UnsafeBufferPointer<UInt8>) -> FieldName? {
        guard bytes.count > 0, bytes.count < 32 else { return nil }
        let table = self.table
        var entry = table.slots[hash(bytes)]
        while entry != 0 {
            let index = Int(entry & 0xFF) - 1
            let matches = table.spellings[index].withUnsafeBufferPointer { spelling -> Bool in
                guard spelling.count == bytes.count else { return false }
                for offset in 0..<bytes.count where spelling[offset] != bytes[offset] { return false }
                return true
            }
            if matches { return table.names[index] }
            entry >>= 8
        }
        return nil
    }
}
