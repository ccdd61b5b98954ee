/// Where a birth was registered: the first three digits of a 12-digit personal identification number
/// (Decree 137/2015 Art. 13, Circular 07/2016/TT-BCA Appendix 1).
public enum RegionCodes {
    /// The 63 province codes and their names. The 2025 merger into 34 provinces re-issues no
    /// numbers, so these codes stay.
    public static let provinces: [String: String] = [
        "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
        "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
        "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
        "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
        "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
        "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
        "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi",
        "052": "Bình Định", "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận",
        "062": "Kon Tum", "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
        "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
        "077": "Bà Rịa–Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
        "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp", "089": "An Giang",
        "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu",
        "096": "Cà Mau",
    ]

    /// Country codes for births registered abroad.
    public static let countryCodes: ClosedRange<Int> = 101...295

    /// Whether `code` (three ASCII digits) is a province code or a country code.
    public static func isKnown(_ code: String) -> Bool {
        let utf8 = code.utf8
        guard utf8.count == 3 else { return false }
        var value = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return false }
            value = value * 10 + Int(byte &- UInt8(ascii: "0"))
        }
        return isKnown(value: value)
    }

    /// Province codes as a bit set over 0...999, for the hot path.
    private static let provinceBits: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 16)
        for key in provinces.keys {
            let value = Int(key)!
            bits[value >> 6] |= 1 << UInt64(value & 63)
        }
        return bits
    }()

    /// Whether the region part of a 12-digit number, read as an integer, is known.
    static func isKnown(value: Int) -> Bool {
        if countryCodes.contains(value) { return true }
        guard value >= 0, value < 1000 else { return false }
        return provinceBits[value >> 6] & (1 << UInt64(value & 63)) != 0
    }
}
