import Identity

/// Vietnamese names for the synthetic population, weighted roughly as they occur.
///
/// Written with the tone on the first vowel of `oa`, `oe`, `uy` ("Hòa", "Thủy"); a person whose
/// record uses the other spelling ("Hoà", "Thuỷ") gets ``ToneStyle/mainVowel`` applied.
enum NameTables {
    /// Family names, with approximate shares (per 1,000).
    static let familyNames = WeightedTable<String>([
        ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 30), ("Huỳnh", 21),
        ("Phan", 45), ("Vũ", 20), ("Võ", 19), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13),
        ("Ngô", 13), ("Dương", 10), ("Lý", 5), ("Đinh", 8), ("Trương", 7), ("Đào", 6), ("Lương", 5),
        ("Mai", 5), ("Trịnh", 5), ("Cao", 4), ("Lâm", 4), ("Tạ", 3), ("Quách", 2), ("Thái", 3),
        ("Hà", 4), ("Kiều", 2), ("Từ", 2), ("Đoàn", 5), ("Châu", 3), ("Tô", 3), ("Lục", 1),
        ("Khúc", 1), ("Âu", 1), ("Ông", 1), ("Nông", 3), ("Lò", 2), ("Giáp", 1),
    ])

    static let maleMiddleNames = WeightedTable<String>([
        ("Văn", 300), ("Đức", 80), ("Hữu", 70), ("Minh", 90), ("Quang", 60), ("Công", 50),
        ("Thành", 40), ("Ngọc", 30), ("Xuân", 25), ("Anh", 30), ("Trọng", 30), ("Quốc", 40),
        ("Thanh", 30), ("Gia", 20), ("Đình", 40), ("Hoàng", 20), ("Bảo", 15), ("Tuấn", 10),
        ("Thế", 20), ("Duy", 15), ("Mạnh", 10), ("Viết", 10), ("Khắc", 10), ("Hòa", 3),
    ])

    static let femaleMiddleNames = WeightedTable<String>([
        ("Thị", 500), ("Ngọc", 60), ("Thu", 40), ("Thanh", 50), ("Kim", 30), ("Phương", 30),
        ("Minh", 25), ("Hồng", 25), ("Thúy", 15), ("Thùy", 15), ("Bích", 15), ("Mai", 15), ("Hải", 10),
        ("Diệu", 10), ("Bảo", 15), ("Khánh", 15), ("Tuyết", 10), ("Quỳnh", 10), ("Xuân", 10),
        ("Thủy", 5), ("Hoài", 10),
    ])

    static let maleGivenNames = WeightedTable<String>([
        ("Anh", 40), ("Hùng", 35), ("Dũng", 35), ("Tuấn", 40), ("Hòa", 25), ("Minh", 40), ("Nam", 35),
        ("Hải", 30), ("Long", 30), ("Sơn", 30), ("Thắng", 25), ("Đức", 25), ("Huy", 30), ("Khoa", 15),
        ("Cường", 25), ("Phong", 20), ("Quân", 25), ("Trung", 25), ("Tùng", 20), ("Việt", 20),
        ("Vinh", 20), ("Hiếu", 20), ("Khánh", 20), ("Phúc", 20), ("Bình", 20), ("Toàn", 15),
        ("Thành", 25), ("Tài", 15), ("Đạt", 25), ("Duy", 20), ("Lâm", 10), ("Kiên", 10), ("Nghĩa", 15),
        ("Quang", 15), ("Hoàng", 15), ("Thụy", 8), ("Tùy", 3), ("Khải", 10), ("Luân", 5), ("Bảo", 15),
        ("Lộc", 15), ("Tiến", 15), ("Thịnh", 10), ("Hưng", 15), ("Công", 5), ("An", 15), ("Khang", 15),
    ])

    static let femaleGivenNames = WeightedTable<String>([
        ("Thủy", 30), ("Thúy", 25), ("Thùy", 20), ("Hòa", 15), ("Hoa", 25), ("Lan", 30), ("Hương", 35),
        ("Hạnh", 25), ("Hằng", 30), ("Hà", 25), ("Mai", 30), ("Ngọc", 25), ("Trang", 40), ("Linh", 40),
        ("Anh", 30), ("Phương", 30), ("Nhung", 20), ("Oanh", 15), ("Quyên", 10), ("Thảo", 35),
        ("Thu", 20), ("Trâm", 10), ("Uyên", 15), ("Vân", 20), ("Yến", 20), ("Nga", 20), ("Hiền", 25),
        ("Huyền", 25), ("Duyên", 15), ("My", 15), ("Ly", 10), ("Nhi", 20), ("Ngân", 15), ("Hồng", 15),
        ("Tuyết", 10), ("Xuân", 10), ("Chi", 15), ("Thoa", 8), ("Quỳnh", 20), ("Tâm", 15), ("Hòe", 4),
        ("Loan", 15), ("Giang", 15), ("Dung", 20), ("Liên", 10), ("Khuê", 5), ("Diệp", 5),
    ])

    /// Ethnic groups, with approximate shares (per 10,000).
    static let ethnicities = WeightedTable<String>([
        ("Kinh", 8530), ("Tày", 190), ("Thái", 190), ("Mường", 150), ("H'Mông", 150), ("Khmer", 140),
        ("Nùng", 110), ("Dao", 90), ("Hoa", 80), ("Gia Rai", 50), ("Ê Đê", 40), ("Ba Na", 30),
        ("Sán Chay", 20), ("Chăm", 20), ("Cơ Ho", 20), ("Xơ Đăng", 20), ("Sán Dìu", 20), ("Hrê", 15),
        ("Ra Glai", 15), ("Mnông", 15), ("Thổ", 10), ("Xtiêng", 10), ("Khơ Mú", 10), ("Bru-Vân Kiều", 10),
        ("Cơ Tu", 7), ("Giáy", 7), ("Tà Ôi", 5), ("Mạ", 5), ("Giẻ-Triêng", 5), ("Co", 4),
    ])

    /// Religions, with approximate shares (per 1,000).
    static let religions = WeightedTable<String>([
        ("Không", 860), ("Phật giáo", 50), ("Công giáo", 60), ("Cao Đài", 10), ("Tin Lành", 10),
        ("Phật giáo Hòa Hảo", 10),
    ])

    /// Parts of place names for communes, wards and districts.
    static let placeNames: [String] = [
        "Tân Lập", "Đông Phong", "Hòa Bình", "An Khánh", "Phú Thịnh", "Thanh Xuân", "Quang Trung",
        "Hòa Thuận", "Vĩnh Phúc", "Tân Phú", "Bình An", "Long Thạnh", "Minh Khai", "Nghĩa Đô", "Đồng Tâm",
        "Phước Hòa", "Xuân La", "Yên Hòa", "Trung Hòa", "Kim Liên", "Cẩm Phả", "Hưng Đạo", "Tiên Phong",
        "Hòa Khánh", "Thủy Xuân", "Điện Biên", "Lê Lợi", "Tân Định", "Bến Nghé", "Đa Kao", "Thạnh Mỹ",
        "Hiệp Phước", "Ninh Hiệp", "Kim Sơn", "Tam Hiệp", "Lạc Long", "Thạch Bàn", "Phúc Xá", "Mỹ Đình",
        "Cầu Kho", "Hòa Phú", "Tân Thuận", "Phú Lợi", "Quỳnh Lưu", "Diễn Châu", "Hải Châu", "Sơn Trà",
    ]

    static let streetNames: [String] = [
        "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Phan Chu Trinh",
        "Điện Biên Phủ", "Nguyễn Trãi", "Lê Duẩn", "Võ Thị Sáu", "Hoàng Diệu", "Quang Trung",
        "Nguyễn Thị Minh Khai", "Bà Triệu", "Trần Phú", "Hùng Vương", "Phạm Văn Đồng", "Cách Mạng Tháng Tám",
        "Nguyễn Văn Cừ", "Lạc Long Quân", "Âu Cơ", "Tô Hiến Thành", "Hòa Bình", "Thống Nhất",
    ]

    /// Centrally governed cities: "Thành phố X"; every other province: "Tỉnh X".
    static let centralCities: Set<String> = ["001", "031", "048", "079", "092"]

    /// `PersonName.comparisonKey` of every name word, computed once: a name's key is its words'
    /// keys joined by spaces (the key works syllable by syllable), so matching a record costs no
    /// Unicode work on the record's side.
    static let comparisonKeys: [String: String] = {
        var keys: [String: String] = [:]
        let tables = [familyNames, maleMiddleNames, femaleMiddleNames, maleGivenNames, femaleGivenNames]
        for table in tables {
            for word in table.elements {
                keys[word] = PersonName.comparisonKey(word)
            }
        }
        return keys
    }()

    /// The main-vowel spelling of every name word whose spelling differs ("Hòa" → "Hoà"), computed
    /// once, so that generating a person needs no per-character work.
    static let mainVowelSpellings: [String: String] = {
        var spellings: [String: String] = [:]
        let tables = [familyNames, maleMiddleNames, femaleMiddleNames, maleGivenNames, femaleGivenNames]
        for table in tables {
            for word in table.elements {
                let other = ToneStyle.mainVowel.apply(to: word)
                if other != word { spellings[word] = other }
            }
        }
        return spellings
    }()
}

/// Where a syllable ending in `oa`, `oe` or `uy` carries its tone.
public enum ToneStyle: String, Sendable, Hashable, Codable {
    /// "Hòa", "Thủy", "Hòe": the tone on the first vowel (the older, still most common spelling).
    case firstVowel
    /// "Hoà", "Thuỷ", "Hoè": the tone on the main vowel (the 1980 rule).
    case mainVowel

    /// Rewrites `name` (written with ``firstVowel`` tones, NFC) in this style.
    func apply(to name: String) -> String {
        guard self == .mainVowel else { return name }
        var output = ""
        output.reserveCapacity(name.utf8.count)
        var characters = Array(name)
        var index = 0
        while index < characters.count {
            let atWordEnd = index + 2 >= characters.count || characters[index + 2] == " "
            if atWordEnd, index + 1 < characters.count, let moved = Self.moved[String(characters[index...index + 1])] {
                let preceded = index > 0 ? characters[index - 1] : " "
                // "qu" + vowel: the u is a consonant there, nothing moves.
                if preceded != "q" && preceded != "Q" {
                    output += moved
                    index += 2
                    continue
                }
            }
            output.append(characters[index])
            index += 1
        }
        characters.removeAll()
        return output
    }

    /// First-vowel pairs and their main-vowel spelling.
    private static let moved: [String: String] = [
        "òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ",
        "òe": "oè", "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ",
        "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ",
    ]
}
