import Foundation
import Registry
import Testing

@Suite struct RegistryTypesTests {
    @Test func citizenRecordWritesANullFormerNumber() throws {
        let record = CitizenRecord(
            fullName: "Nguyễn Thị Thuỷ", dateOfBirth: "1990", gender: "female", nationality: "Việt Nam",
            ethnicity: "Kinh", religion: "Không", placeOfOrigin: "x", permanentAddress: "y", currentAddress: "z",
            personalIdNumber: "030190012345", formerIdNumber: nil)
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(json.contains(#""formerIdNumber":null"#))
        #expect(try JSONDecoder().decode(CitizenRecord.self, from: Data(json.utf8)) == record)
        #expect(!"\(record)".contains("Nguyễn"))
    }

    @Test func configurationsRefuseValuesThatCannotWork() {
        #expect(throws: RegistryConfigurationError.self) {
            try HTTPRegistryClient.Configuration(baseURL: "ftp://registry", token: "t").validate()
        }
        #expect(throws: RegistryConfigurationError.self) {
            try HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: "").validate()
        }
        #expect(throws: RegistryConfigurationError.self) {
            try HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: "t", concurrency: 0).validate()
        }
        #expect(throws: RegistryConfigurationError.self) { try RegistryRateLimit(callsPerSecond: 0).validate() }
        #expect(throws: RegistryConfigurationError.self) {
            try RegistryRateLimit(callsPerSecond: 10, safetyMargin: .milliseconds(5), lateTolerance: .milliseconds(10)).validate()
        }
        #expect(throws: RegistryConfigurationError.self) { try RetryPolicy(maxAttempts: 0).validate() }
        #expect(throws: RegistryConfigurationError.self) { try CircuitBreaker.Configuration(failureThreshold: 0).validate() }
        #expect(throws: RegistryConfigurationError.self) { try FairScheduler.Configuration(maxConcurrentCalls: 0).validate() }
    }

    /// The request's headers are not validated again on the way out, so a value that could split a
    /// header (a control character in a token) must stop start-up, naming the setting.
    @Test func headerValuesAreCheckedWhenConfigured() throws {
        for token in ["abc\u{0}def", "abc\u{7}", "abc\r\nX-Evil: 1", "tab\tin", "ünicode"] {
            let error = #expect(throws: RegistryConfigurationError.self) {
                try HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: token).validate()
            }
            #expect(error?.message.contains("REGISTRY_TOKEN") == true)
        }
        var agent = HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: "t")
        agent.userAgent = "idverify\r\nX-Evil: 1"
        #expect(throws: RegistryConfigurationError.self) { try agent.validate() }
        agent.userAgent = "tthc-identity-verifier/1.0 (province)"
        try agent.validate()
        try HTTPRegistryClient.Configuration(baseURL: "https://registry.example", token: "eyJhbGciOi.J9-_~+/=").validate()
    }

    @Test func rateLimitSpacingNeverExceedsTheLimit() {
        for perSecond in [1, 3, 7, 100, 300, 999, 1_000, 12_345] {
            let limit = RegistryRateLimit(callsPerSecond: perSecond)
            // N slots span at least one second plus the margin.
            #expect(limit.emissionIntervalMicroseconds * Int64(perSecond) >= 1_020_000)
            #expect(limit.maximumUtilisation <= 1_000_000.0 / 1_020_000.0 + 1e-9)
            #expect(limit.maximumUtilisation > 0.975)
            // 5 ms of the 20-ms margin for waking late, the rest for the HTTP path.
            #expect(limit.lateTolerance == .milliseconds(5))
        }
    }
}
