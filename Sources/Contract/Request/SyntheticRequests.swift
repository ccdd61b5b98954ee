import Foundation
import Identity

/// Deterministic synthetic requests that pass every rule: for benchmarks, load generators and
/// tests. The people are invented (names from common Vietnamese family, middle and given names,
/// numbers built by the CCCD structure); the same seed always gives the same requests.
public struct SyntheticRequests: Sendable {
    private var state: UInt64

    public init(seed: UInt64 = 0x7474_6863) {
        self.state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
    }

    static let familyNames = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
    static let middleNames = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Thuỳ", "Hoài"]
    static let givenNames = ["An", "Bình", "Cường", "Dũng", "Hoà", "Hương", "Khoẻ", "Lan", "Long", "Mai", "Nam", "Phúc", "Quý", "Thuỷ", "Trang", "Tuấn", "Yến", "Nguyệt", "Khuê", "Thuý"]

    static let provinceCodes = RegionCodes.provinces.keys.sorted()

    private mutating func next() -> UInt64 {
        // xorshift64*
        self.state ^= self.state >> 12
        self.state ^= self.state << 25
        self.state ^= self.state >> 27
        return self.state &* 0x2545_F491_4F6C_DD1D
    }

    private mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(self.next() % UInt64(range.count))
    }

    private mutating func pick<T>(_ items: [T]) -> T {
        items[self.int(0...(items.count - 1))]
    }

    private mutating func uuid() -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: self.next()) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }

    /// A person: a 12-digit number (or, one time in ten, a 9-digit CMND) agreeing with the date
    /// of birth, some dates held at year or month precision only.
    public mutating func subject() -> Subject {
        let year = self.int(1930...2007)
        let month = self.int(1...12)
        let day = self.int(1...28)
        let precision = self.int(0...19)
        let date = PartialDate(year: year, month: precision == 0 ? nil : month, day: precision <= 1 ? nil : day)
        let name = [self.pick(Self.familyNames), self.pick(Self.middleNames), self.pick(Self.givenNames)].joined(separator: " ")
        let idNumber: String
        if self.int(0...9) == 0 {
            // Never nine equal digits, which no CMND has.
            let value = self.int(100_000_000...999_999_998)
            idNumber = String(value % 111_111_111 == 0 ? value + 1 : value)
        } else {
            let region = self.pick(Self.provinceCodes)
            let century = (year - 1900) / 100 * 2 + self.int(0...1)
            idNumber = region + String(century) + String(format: "%02d%06d", year % 100, self.int(1...999_999))
        }
        return Subject(fullName: name, idNumber: idNumber, dateOfBirth: date)
    }

    /// A valid request on `channel`, occurring at `occurredAt`.
    public mutating func request(on channel: Channel, occurredAt: Date = Date(timeIntervalSince1970: 1_795_000_000)) -> VerificationRequest {
        let timestamp = Timestamp(occurredAt)
        let agency = "H23.45." + String(self.int(10...99))
        let account = "acc-" + String(self.int(10_000...99_999))
        let details: ChannelDetails
        let actor: Actor
        switch channel {
        case .counter:
            actor = Actor(kind: .officer, id: "officer-" + String(self.int(1...500)))
            var keyBytes = [UInt8](repeating: 0, count: 32)
            for index in 0..<32 { keyBytes[index] = UInt8(truncatingIfNeeded: self.next()) }
            details = .counter(autofillRecipientKey: self.int(0...1) == 0 ? AutofillRecipientKey(rawRepresentation: keyBytes) : nil)
        case .registration:
            actor = Actor(kind: .citizen, id: account)
            details = .registration(accountId: account)
        case .submission:
            actor = Actor(kind: .citizen, id: account)
            let due = Timestamp(occurredAt.addingTimeInterval(5 * 86_400))
            let code = agency + "-" + String(self.int(100_000...999_999)) + "-" + String(format: "%04d", self.int(1...9999))
            details = .submission(
                accountId: account,
                dossier: DossierReference(code: code, procedureCode: "1.00" + String(self.int(1000...9999)), receivedAt: timestamp, dueAt: due)
            )
        }
        return VerificationRequest(
            requestUUID: self.uuid(),
            occurredAt: timestamp,
            agencyCode: agency,
            actor: actor,
            subject: self.subject(),
            details: details
        )
    }
}
