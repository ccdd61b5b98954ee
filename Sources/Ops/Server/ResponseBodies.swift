import Foundation
import Store

/// `GET /healthz`.
struct HealthBody: Encodable {
    var status: String
}

/// `GET /readyz`: `{"ready": Bool, "checks": [{"name", "ok", "reason"?}]}`.
struct ReadinessBody: Encodable {
    struct Check: Encodable {
        var name: String
        var ok: Bool
        var reason: String?
    }

    var ready: Bool
    var checks: [Check]

    init(_ report: ReadinessProbe.Report) {
        self.ready = report.ready
        self.checks = report.checks.map { Check(name: $0.name, ok: $0.ok, reason: $0.reason) }
    }
}

/// `GET /v1/stats`, contract section 6: `{"agency", "month", "handled", "resolved", "returned",
/// "onTime", "late", "lateRate"}`, `agency` null for all agencies.
struct StatisticsBody: Encodable {
    var figures: DossierFigures

    init(_ figures: DossierFigures) {
        self.figures = figures
    }

    enum CodingKeys: String, CodingKey {
        case agency, month, handled, resolved, returned, onTime, late, lateRate
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.figures.agency, forKey: .agency)  // null when nil
        try container.encode(self.figures.month.description, forKey: .month)
        try container.encode(self.figures.handled, forKey: .handled)
        try container.encode(self.figures.resolved, forKey: .resolved)
        try container.encode(self.figures.returned, forKey: .returned)
        try container.encode(self.figures.onTime, forKey: .onTime)
        try container.encode(self.figures.late, forKey: .late)
        try container.encode(self.figures.lateRate, forKey: .lateRate)
    }
}

/// Any error answer: `{"error": code, "message": text, "parameter"?: name}`.
struct ErrorBody: Encodable {
    var error: String
    var message: String
    var parameter: String?

    init(error: String, message: String, parameter: String? = nil) {
        self.error = error
        self.message = message
        self.parameter = parameter
    }

    init(_ failure: StatisticsQuery.Failure) {
        self.init(error: "invalid_parameter", message: failure.message, parameter: failure.parameter)
    }
}

extension DossierFigures {
    /// The figures as `/v1/stats` answers them (contract section 6).
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(StatisticsBody(self))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
