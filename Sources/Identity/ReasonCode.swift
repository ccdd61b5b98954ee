/// A machine-readable reason why a request cannot be checked, as sent in a verdict's `reasons`.
///
/// The codes are part of the wire contract (front ends translate them), so this is an
/// extensible struct over the snake_case string rather than a closed enum: new codes can be
/// added without breaking anyone who switches over the known ones.
public struct ReasonCode: Sendable, Hashable, Codable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }

    public var description: String { self.rawValue }

    // Contract fields (contract.md section 3).
    /// A required field is absent (or `null`).
    public static let missing = ReasonCode(rawValue: "missing")
    /// A field has the wrong JSON type.
    public static let invalidType = ReasonCode(rawValue: "invalid_type")
    /// A malformed string: timestamp, agency code, base64 key, UUID, id number.
    public static let invalidFormat = ReasonCode(rawValue: "invalid_format")
    /// A value outside an enumeration.
    public static let invalidValue = ReasonCode(rawValue: "invalid_value")
    /// A string shorter or longer than the contract allows.
    public static let invalidLength = ReasonCode(rawValue: "invalid_length")

    // Identity rules (identity-rules.md).
    /// The 12-digit number's first three digits are neither a province nor a country code.
    public static let unknownRegionCode = ReasonCode(rawValue: "unknown_region_code")
    /// The 12-digit number's serial is `000000`, which is never issued.
    public static let invalidSerial = ReasonCode(rawValue: "invalid_serial")
    /// The 12-digit number's century digit and year digits disagree with the date of birth.
    public static let birthYearMismatch = ReasonCode(rawValue: "birth_year_mismatch")
    /// The name has one word only.
    public static let singleWord = ReasonCode(rawValue: "single_word")
    /// The name holds something other than letters, spaces, apostrophes and hyphens.
    public static let invalidCharacters = ReasonCode(rawValue: "invalid_characters")
    /// The date of birth is not `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, or not a real calendar date.
    public static let invalidDate = ReasonCode(rawValue: "invalid_date")
    /// The date of birth is in the future or before 1900.
    public static let outOfRange = ReasonCode(rawValue: "out_of_range")

    // Registry.
    /// The registry answered 400 to a request that passed every local rule.
    public static let registryRejected = ReasonCode(rawValue: "registry_rejected")
}

/// One broken rule: the JSON path of the field (`subject.idNumber`) and the reason code.
///
/// `description` prints only the path and the code, never a value.
public struct ValidationReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON path of the field, dot-separated (`subject.idNumber`, `dossier.receivedAt`).
    public var field: String
    public var code: ReasonCode

    public init(field: String, code: ReasonCode) {
        self.field = field
        self.code = code
    }

    public var description: String { "\(self.field): \(self.code.rawValue)" }
}
