import Registry
import Testing

@Suite struct RetryPolicyTests {
    @Test func fullJitterStaysUnderTheExponentialCeiling() {
        let policy = RetryPolicy(maxAttempts: 6, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        #expect(policy.backoffCeiling(beforeRetry: 1) == .milliseconds(100))
        #expect(policy.backoffCeiling(beforeRetry: 2) == .milliseconds(200))
        #expect(policy.backoffCeiling(beforeRetry: 3) == .milliseconds(400))
        #expect(policy.backoffCeiling(beforeRetry: 5) == .seconds(1))
        #expect(policy.backoffCeiling(beforeRetry: 60) == .seconds(1))
        var generator = SystemRandomNumberGenerator()
        for retry in 1...5 {
            var delays: [Duration] = []
            for _ in 0..<500 {
                let delay = policy.delay(beforeRetry: retry, retryAfter: nil, using: &generator)!
                #expect(delay >= .zero && delay <= policy.backoffCeiling(beforeRetry: retry))
                delays.append(delay)
            }
            // Full jitter: spread over the whole range, not bunched at the ceiling.
            let ceiling = policy.backoffCeiling(beforeRetry: retry)
            #expect(delays.contains { $0 < ceiling / 4 })
            #expect(delays.contains { $0 > ceiling * 3 / 4 })
        }
    }

    @Test func retryAfterIsAFloor() {
        let policy = RetryPolicy(initialBackoff: .milliseconds(100), maxRetryAfter: .seconds(30))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let delay = policy.delay(beforeRetry: 1, retryAfter: .seconds(2), using: &generator)!
            #expect(delay >= .seconds(2) && delay <= .milliseconds(2_100))
        }
        // Longer than the policy waits out: give up (the worker parks the request).
        #expect(policy.delay(beforeRetry: 1, retryAfter: .seconds(31), using: &generator) == nil)
    }

    @Test func errorsClassifyAsTheContractSays() {
        for status in [400, 401, 403, 404] {
            #expect(!RegistryError(httpStatus: status, endpoint: .verify).isRetriable, "status \(status)")
        }
        for status in [429, 500, 502, 503, 504] {
            #expect(RegistryError(httpStatus: status, endpoint: .verify).isRetriable, "status \(status)")
        }
        #expect(RegistryError(code: .timeout).isRetriable)
        #expect(RegistryError(httpStatus: 401, endpoint: .lookup).isAuthenticationFailure)
        let error = RegistryError(code: .serverError, endpoint: .verify, httpStatus: 503, attempts: 2)
        #expect(error.description == "RegistryError(code: server_error, endpoint: verify, status: 503, attempts: 2)")
    }

    @Test func queriesDoNotPrintPersonalData() {
        let query = RegistryQuery(idNumber: "030190012345", fullName: "Nguyễn Thị Thuỷ", dateOfBirth: "1990-04-12")
        let text = "\(query) \(VerifyResult(match: true, personalIdNumber: "030190012345"))"
        #expect(!text.contains("0301"))
        #expect(!text.contains("Nguyễn"))
        #expect(!text.contains("1990"))
    }
}
