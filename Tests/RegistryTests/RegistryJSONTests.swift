import Foundation
import NIOCore
import Testing

@testable import Registry

/// The registry call's hand-written JSON against Foundation's coders.
@Suite struct RegistryJSONTests {
    @Test("the query body decodes to the same query, whatever the name holds", arguments: [
        "Nguyễn Thị Thuỷ", "Nguyễn Thị Thủy", #"Lê "Quote" Back\slash"#, "Tab\tNew\nline\r\u{1}\u{1F}", "", "😀 ĐẶNG",
    ])
    func queryBody(name: String) throws {
        let query = RegistryQuery(idNumber: "030190012345", fullName: name, dateOfBirth: "1990-02")
        let body = RegistryJSON.body(query)
        let decoded = try JSONDecoder().decode(RegistryQuery.self, from: Data(body.readableBytesView))
        #expect(decoded == query)
        // The same object Foundation writes (keys as the contract names them, nothing else).
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String]
        #expect(object == ["idNumber": "030190012345", "fullName": name, "dateOfBirth": "1990-02"])
    }

    @Test("only the two bare verify answers take the short path; the rest are decoded in full")
    func plainVerifyAnswers() {
        #expect(RegistryJSON.plainVerifyAnswer(ByteBuffer(string: #"{"match":true}"#)) == VerifyResult(match: true))
        #expect(RegistryJSON.plainVerifyAnswer(ByteBuffer(string: #"{"match":false}"#)) == VerifyResult(match: false))
        #expect(RegistryJSON.plainVerifyAnswer(ByteBuffer(string: #"{"match": true}"#)) == nil)
        #expect(RegistryJSON.plainVerifyAnswer(ByteBuffer(string: #"{"match":true,"personalIdNumber":"030190012345"}"#)) == nil)
        #expect(RegistryJSON.plainVerifyAnswer(ByteBuffer(string: #"{"match":true} "#)) == nil)
    }
}
