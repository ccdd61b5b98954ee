import Foundation
import Identity
import PropertyBased
import Testing

@testable import Contract

@Suite("Properties")
struct PropertyTests {
    @Test("property: requests encode and read back to themselves", arguments: Channel.allCases)
    func requestRoundTrip(_ channel: Channel) async {
        await propertyCheck(count: 200, input: Gen.uint64(in: 1...UInt64.max)) { seed in
            var synthetic = SyntheticRequests(seed: seed)
            let request = synthetic.request(on: channel)
            let read = RequestReader().read(value: request.encodedJSON(), topic: channel, now: Fixtures.now)
            #expect(read == .request(request))
        }
    }

    @Test("property: verdicts encode, decode and re-encode byte for byte")
    func verdictRoundTrip() async {
        await propertyCheck(
            count: 200,
            input: Gen.uint64(in: 1...UInt64.max),
            Gen.int(in: 0...3),
            Gen.int(in: 0...20),
            Gen.int64(in: -2_000_000_000_000...4_000_000_000_000)
        ) { seed, outcomeIndex, attempts, milliseconds in
            var synthetic = SyntheticRequests(seed: seed)
            let channel = Channel.allCases[Int(seed % 3)]
            let request = synthetic.request(on: channel)
            let outcome = Verdict.Outcome.allCases[outcomeIndex]
            let decidedAt = Timestamp(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            let verdict = Verdict(
                request: request,
                outcome: outcome,
                attempts: attempts,
                decidedAt: decidedAt,
                subjectRefKey: Fixtures.refKey,
                autofill: SealedAutofill(encapsulatedKey: Base64.encode([UInt8](repeating: UInt8(attempts), count: 32)), ciphertext: "AAAA")
            )
            let bytes = verdict.encodedJSON()
            let decoded = try Verdict(json: bytes)
            #expect(decoded == verdict)
            #expect(decoded.encodedJSON() == bytes)
            #expect(try JSONDecoder().decode(Verdict.self, from: Data(bytes)) == verdict)
        }
    }

    @Test("property: an invalid verdict round-trips with any usable request id")
    func invalidVerdictRoundTrip() async {
        await propertyCheck(count: 200, input: Gen.unicodeScalar(in: "\u{0}"..."\u{2FFF}").array(of: 1...128)) { scalars in
            var requestId = String.UnicodeScalarView()
            requestId.append(contentsOf: scalars)
            let json = Fixtures.registration.setting("requestId", .s(String(requestId))).setting("subject.fullName", .s("X"))
            let result = Fixtures.read(json, .registration)
            guard case .invalid(let invalid) = result else {
                Issue.record("expected invalid, got \(result.kind)")
                return
            }
            #expect(invalid.requestId == String(requestId))
            let verdict = Verdict(invalid: invalid, subjectRefKey: Fixtures.refKey, decidedAt: Timestamp(Fixtures.now))
            let decoded = try Verdict(json: verdict.encodedJSON())
            #expect(decoded == verdict)
        }
    }

    @Test("property: random bytes never crash the reader, and dead-letter reasons are true")
    func randomBytes() async {
        await propertyCheck(count: 1000, input: Gen.uint8(in: 0...255).array(of: 0...400), Gen.int(in: 0...2)) { bytes, channelIndex in
            let result = RequestReader().read(value: bytes, topic: Channel.allCases[channelIndex], now: Fixtures.now)
            Oracle.check(result, bytes)
        }
    }

    @Test("property: mutated valid requests never crash the reader, and agree with an independent JSON parser")
    func mutatedJSON() async {
        await propertyCheck(
            count: 1500,
            input: Gen.uint64(in: 1...UInt64.max),
            Gen.int(in: 0...(Mutation.count - 1)).array(of: 1...4),
            Gen.int(in: 0...Int.max).array(of: 4)
        ) { seed, mutations, positions in
            var synthetic = SyntheticRequests(seed: seed)
            let channel = Channel.allCases[Int(seed % 3)]
            var bytes = synthetic.request(on: channel).encodedJSON()
            for (index, mutation) in mutations.enumerated() {
                bytes = Mutation.apply(mutation, to: bytes, at: positions[index % positions.count])
            }
            let result = RequestReader().read(value: bytes, topic: channel, now: Fixtures.now)
            Oracle.check(result, bytes)
        }
    }

    @Test("the adversarial inputs of the brief, each with its result")
    func adversarial() {
        let valid = Fixtures.registration.bytes
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(Fixtures.read(deep, .registration).deadLetterReason == .tooLarge)
        #expect(Fixtures.read(Array(deep.prefix(60_000)), .registration).deadLetterReason == .tooDeep)
        let deepInside = Array(valid.dropLast()) + Array(",\"x\":".utf8) + deep + Array(String(repeating: "]", count: 100_000).utf8) + [UInt8(ascii: "}")]
        #expect(Fixtures.read(deepInside, .registration).deadLetterReason == .tooLarge)
        let deepButSmall = Array(valid.dropLast()) + Array(",\"x\":".utf8) + deep.prefix(30_000) + Array(String(repeating: "]", count: 30_000).utf8) + [UInt8(ascii: "}")]
        #expect(Fixtures.read(deepButSmall, .registration).deadLetterReason == .tooDeep)
        let hugeNumber = Array(valid.dropLast()) + Array(",\"x\":1".utf8) + [UInt8](repeating: UInt8(ascii: "0"), count: 65_000) + [UInt8(ascii: "}")]
        #expect(Fixtures.read(hugeNumber, .registration).request != nil)
        let padded = valid + [UInt8](repeating: 0x20, count: 65_537 - valid.count)
        #expect(Fixtures.read(padded, .registration).deadLetterReason == .tooLarge)
        var invalidUTF8 = valid
        invalidUTF8.insert(0xC0, at: 40)
        #expect(Fixtures.read(invalidUTF8, .registration).deadLetterReason == .notUTF8)
    }
}

/// Checks a reader result against what can be said of the bytes independently.
enum Oracle {
    static func check(_ result: ReadResult, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let isUTF8 = String(validating: bytes, as: UTF8.self) != nil
        if bytes.count > RequestReader.maximumValueSize {
            #expect(result == .deadLetter(.tooLarge), sourceLocation: sourceLocation)
            return
        }
        #expect((result == .deadLetter(.notUTF8)) == !isUTF8, sourceLocation: sourceLocation)
        guard isUTF8 else { return }
        // Foundation's parser (allowing fragments) as an independent judge of JSON syntax.
        let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        switch result {
        case .request, .invalid:
            // Foundation also refuses numbers beyond Double's range, which we only check for syntax.
            #expect(foundation is [String: Any] || hasOutOfRangeNumber(bytes), sourceLocation: sourceLocation)
        case .deadLetter(.notObject):
            #expect(foundation == nil ? hasOutOfRangeNumber(bytes) : !(foundation is [String: Any]), sourceLocation: sourceLocation)
        case .deadLetter(.missingRequestId):
            let requestId = (foundation as? [String: Any])?["requestId"]
            let usable = (requestId as? String).map { (1...128).contains($0.unicodeScalars.count) } ?? false
            #expect(!usable, sourceLocation: sourceLocation)
        case .deadLetter(.notJSON):
            // Foundation accepts lone surrogate escapes and trailing commas, which RFC 8259 does not.
            let text = String(decoding: bytes, as: UTF8.self).lowercased().filter { !$0.isWhitespace }
            let lenient = text.contains("\\ud") || text.contains(",}") || text.contains(",]")
            #expect(foundation == nil || lenient, sourceLocation: sourceLocation)
        case .deadLetter(let reason):
            #expect(reason == .tooDeep, sourceLocation: sourceLocation)
        }
    }
}

extension Oracle {
    /// Whether the text has a number literal outside Double's range (an exponent of three or
    /// more digits, or 300 digits in a row).
    static func hasOutOfRangeNumber(_ bytes: [UInt8]) -> Bool {
        var run = 0
        var afterExponent = false
        var exponentDigits = 0
        for byte in bytes {
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            run = isDigit ? run + 1 : 0
            if run >= 300 { return true }
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                afterExponent = true
                exponentDigits = 0
            } else if afterExponent && isDigit {
                exponentDigits += 1
                if exponentDigits >= 3 { return true }
            } else if !(afterExponent && (byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-"))) {
                afterExponent = false
            }
        }
        return false
    }
}

/// Ways to damage a valid message.
enum Mutation {
    static let count = 12

    static func apply(_ kind: Int, to bytes: [UInt8], at position: Int) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var bytes = bytes
        let index = position % bytes.count
        switch kind {
        case 0:  // flip a bit
            bytes[index] ^= UInt8(1 << (position % 8))
        case 1:  // delete a byte
            bytes.remove(at: index)
        case 2:  // insert a structural character
            let structural = Array("{}[]\",:\\ 0-etn".utf8)
            bytes.insert(structural[position % structural.count], at: index)
        case 3:  // truncate
            bytes.removeSubrange(index...)
        case 4:  // an invalid UTF-8 sequence
            bytes.insert(contentsOf: [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xE1, 0xBB]][position % 4], at: index)
        case 5:  // nest the whole message deeply
            let depth = [10, 63, 64, 100_000][position % 4]
            bytes = [UInt8](repeating: UInt8(ascii: "["), count: depth) + bytes + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
        case 6:  // a huge number in an unknown field
            let digits = [UInt8](repeating: UInt8(ascii: "9"), count: 1 + position % 70_000)
            bytes = Array(bytes.dropLast()) + Array(",\"n\":-".utf8) + digits + Array(".5e99999}".utf8)
        case 7:  // grow past 64 KiB
            bytes += [UInt8](repeating: 0x20, count: max(0, 65_537 - bytes.count) + position % 3)
        case 8:  // replace a string value with a number or null
            if let quote = bytes[index...].firstIndex(of: UInt8(ascii: ":")) {
                bytes.insert(contentsOf: Array((position % 2 == 0 ? "null," : "7,").utf8), at: quote + 1)
            }
        case 9:  // a lone or paired surrogate escape
            if let quote = bytes[index...].firstIndex(of: UInt8(ascii: "\"")) {
                bytes.insert(contentsOf: Array([#"\ud800"#, #"\udc00"#, #"\ud83d\ude00"#, #"\u00e9"#][position % 4].utf8), at: quote + 1)
            }
        case 10:  // duplicate a slice
            let end = min(bytes.count, index + 1 + position % 40)
            bytes.insert(contentsOf: bytes[index..<end], at: end)
        default:  // a control character inside a string
            bytes.insert(UInt8(position % 32), at: index)
        }
        return bytes
    }
}
