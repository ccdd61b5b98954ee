import Foundation
import Hummingbird
import Identity

extension RegistrySimulator {
    /// What to do with one call of verify or lookup, decided at its arrival.
    enum Admission {
        case unauthorized
        case scripted(status: Int, retryAfterSeconds: Int?)
        case rateLimited(retryAfterSeconds: Int)
        case admitted(SimulatorBehaviour)
    }

    enum Endpoint: String {
        case verify, lookup
    }

    /// The endpoints. A plain switch rather than a `Router`: seven fixed paths, and this is the
    /// hot path of a server that must not be the bottleneck of any benchmark.
    struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let simulator: RegistrySimulator

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            let simulator = self.simulator
            switch (request.method, request.uri.path) {
            case (.post, "/v1/citizens/verify"):
                return try await simulator.handleCall(.verify, request)
            case (.post, "/v1/citizens/lookup"):
                return try await simulator.handleCall(.lookup, request)
            case (.get, "/stats"):
                return try RegistrySimulator.json(simulator.statistics())
            case (.get, "/healthz"):
                return Response(status: .ok)
            case (.get, "/admin/behaviour"):
                guard simulator.isAuthorized(request) else { return RegistrySimulator.unauthorized() }
                return try RegistrySimulator.json(simulator.behaviour)
            case (.put, "/admin/behaviour"):
                return try await simulator.updateBehaviour(request)
            case (.post, "/admin/fail-next"):
                return try await simulator.scriptFailures(request)
            case (.post, "/admin/reset-stats"):
                guard simulator.isAuthorized(request) else { return RegistrySimulator.unauthorized() }
                simulator.resetStatistics()
                return Response(status: .noContent)
            case (_, "/v1/citizens/verify"), (_, "/v1/citizens/lookup"), (_, "/stats"), (_, "/healthz"),
                (_, "/admin/behaviour"), (_, "/admin/fail-next"), (_, "/admin/reset-stats"):
                return RegistrySimulator.problem(.methodNotAllowed, "method not allowed")
            default:
                return RegistrySimulator.problem(.notFound, "no such endpoint")
            }
        }
    }

    private func updateBehaviour(_ request: Request) async throws -> Response {
        guard self.isAuthorized(request) else { return Self.unauthorized() }
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        guard let update = try? JSONDecoder().decode(SimulatorBehaviour.Update.self, from: Data(buffer: body)) else {
            return Self.problem(.badRequest, "expected a JSON object of behaviour fields")
        }
        let updated = update.applied(to: self.behaviour)
        do {
            try self.setBehaviour(updated)
        } catch let error as SimulatorConfigurationError {
            return Self.problem(.badRequest, error.message)
        }
        self.logger.info("Registry simulator behaviour changed")
        return try Self.json(updated)
    }

    private func scriptFailures(_ request: Request) async throws -> Response {
        guard self.isAuthorized(request) else { return Self.unauthorized() }
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        guard let failure = try? JSONDecoder().decode(ScriptedFailure.self, from: Data(buffer: body)),
            failure.count >= 0, (400...599).contains(failure.status)
        else {
            return Self.problem(.badRequest, "expected {\"count\": n, \"status\": 4xx/5xx, \"retryAfterSeconds\": s}")
        }
        self.scriptFailures(failure)
        return Response(status: .noContent)
    }

    func isAuthorized(_ request: Request) -> Bool {
        request.headers[.authorization] == self.expectedAuthorization
    }

    /// One call of verify or lookup, start to finish.
    func handleCall(_ endpoint: Endpoint, _ request: Request) async throws -> Response {
        let authorized = self.isAuthorized(request)
        let admission = self.admit(endpoint, authorized: authorized, traceParent: request.headers[.init("traceparent")!])

        switch admission {
        case .unauthorized:
            return Self.unauthorized()
        case .scripted(let status, let retryAfter):
            var response = Self.problem(HTTPResponse.Status(code: status), "scripted failure")
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        case .rateLimited(let retryAfter):
            var response = Self.problem(.tooManyRequests, "quota exceeded")
            response.headers[.retryAfter] = String(retryAfter)
            return response
        case .admitted(let behaviour):
            var request = request
            let body = try? await request.collectBody(upTo: 64 * 1024)
            guard let body,
                let query = body.withUnsafeReadableBytes(QueryParser.parse),
                let valid = ValidQuery(query)
            else {
                self.count(endpoint, "400")
                return Self.problem(.badRequest, "expected {\"idNumber\": 9 or 12 digits, \"fullName\", \"dateOfBirth\": YYYY[-MM[-DD]]}")
            }
            return try await self.answer(endpoint, valid, behaviour: behaviour)
        }
    }

    /// Records the arrival and decides: token, scripted failures, quota. One lock, no I/O.
    private func admit(_ endpoint: Endpoint, authorized: Bool, traceParent: String?) -> Admission {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            if let traceParent {
                if state.traceParents.count >= Self.traceParentMemory { state.traceParents.removeFirst(Self.traceParentMemory / 2) }
                state.traceParents.append(traceParent)
            }
            let arrival = Self.nanoseconds(state.epoch.duration(to: now))
            state.arrivals.record(arrival)
            state.totalCalls += 1
            if state.firstCall == nil { state.firstCall = arrival }
            state.lastCall = arrival

            guard authorized else {
                state.count(endpoint.rawValue, "401")
                return .unauthorized
            }
            if !state.scripted.isEmpty {
                let failure = state.scripted[0]
                if failure.count <= 1 { state.scripted.removeFirst() } else { state.scripted[0].count -= 1 }
                state.count(endpoint.rawValue, String(failure.status))
                return .scripted(status: failure.status, retryAfterSeconds: failure.retryAfterSeconds)
            }
            let quota = state.behaviour.quota
            if quota > 0, state.admitted.count(at: arrival) >= quota {
                // The window frees a place when its oldest call turns one second old.
                let oldest = state.admitted.oldest(at: arrival) ?? arrival
                let waitNanoseconds = oldest + 1_000_000_000 - arrival
                state.count(endpoint.rawValue, "429")
                return .rateLimited(retryAfterSeconds: max(1, Int((waitNanoseconds + 999_999_999) / 1_000_000_000)))
            }
            state.admitted.record(arrival)
            return .admitted(state.behaviour)
        }
    }

    private func count(_ endpoint: Endpoint, _ status: String) {
        self.state.withLock { $0.count(endpoint.rawValue, status) }
    }

    /// Hang, fail or answer, after the configured latency.
    private func answer(_ endpoint: Endpoint, _ query: ValidQuery, behaviour: SimulatorBehaviour) async throws -> Response {
        var draw = 1.0
        if behaviour.hangRate > 0 || behaviour.errorRate > 0 { draw = Double.random(in: 0..<1) }
        if draw < behaviour.hangRate {
            self.count(endpoint, "hang")
            await self.hanging.hang(for: .milliseconds(Int64(behaviour.hangSeconds * 1_000)))
            return Self.problem(.gatewayTimeout, "hung")
        }

        var latency = behaviour.latencyMs
        if behaviour.latencySpreadMs > 0 { latency += Double.random(in: 0...behaviour.latencySpreadMs) }
        if latency > 0 { try await Task.sleep(for: .microseconds(Int64(latency * 1_000))) }

        if draw < behaviour.hangRate + behaviour.errorRate {
            let status: HTTPResponse.Status = Bool.random() ? .internalServerError : .serviceUnavailable
            self.count(endpoint, String(status.code))
            return Self.problem(status, "injected failure")
        }

        self.count(endpoint, "200")
        return Self.jsonText(self.answerText(endpoint, idNumber: query.idNumber, fullName: query.fullName, dateOfBirth: query.dateOfBirth))
    }

    /// The body of a 200 answer.
    private func answerText(_ endpoint: Endpoint, idNumber: String, fullName: String, dateOfBirth: PartialDate) -> String {
        switch (endpoint, self.population.match(idNumber: idNumber, fullName: fullName, dateOfBirth: dateOfBirth)) {
        case (.verify, .match(_, let personalIdNumber, let byFormer)):
            // Digits only: no escaping needed, so no encoder on the hot path.
            return byFormer ? #"{"match":true,"personalIdNumber":""# + personalIdNumber + #""}"# : #"{"match":true}"#
        case (.verify, .noMatch), (.lookup, .noMatch):
            return #"{"match":false}"#
        case (.lookup, .match(let index, _, _)):
            return CitizenRecordBody(self.population.citizen(at: index)).lookupAnswerJSON
        }
    }

    // MARK: Responses

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func jsonText(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = #"{"error":"\#(message.replacingOccurrences(of: "\"", with: "\\\""))"}"#
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    static func unauthorized() -> Response {
        var response = Self.problem(.unauthorized, "missing or wrong bearer token")
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }
}

extension Data {
    /// The readable bytes of a buffer.
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}
