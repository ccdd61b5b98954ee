import Store

/// A JSON object written field by field, in the order given (the contract's field order), with
/// RFC 8259 string escaping.
struct JSONObject {
    private(set) var text = "{"
    private var empty = true

    mutating func field(_ name: String, _ value: String?) {
        self.key(name)
        if let value { JSONLogHandler.appendString(&self.text, value) } else { self.text += "null" }
    }

    mutating func field(_ name: String, _ value: Int) {
        self.key(name)
        self.text += String(value)
    }

    mutating func field(_ name: String, _ value: Double) {
        self.key(name)
        // Swift prints the shortest text that reads back as the same double (`0.0`, `0.4`,
        // `0.3333333333333333`, `1e-05`): a valid JSON number for every finite value, and the
        // figures are never infinite or NaN.
        self.text += value.isFinite ? String(value) : "null"
    }

    mutating func field(_ name: String, _ value: Bool) {
        self.key(name)
        self.text += value ? "true" : "false"
    }

    mutating func field(_ name: String, raw json: String) {
        self.key(name)
        self.text += json
    }

    private mutating func key(_ name: String) {
        if !self.empty { self.text += "," }
        self.empty = false
        JSONLogHandler.appendString(&self.text, name)
        self.text += ":"
    }

    var json: String { self.text + "}" }
}

/// A response body.
protocol JSONBody {
    var json: String { get }
}

/// `GET /healthz`: `{"status":"alive"}`.
struct HealthBody: JSONBody {
    var status: String

    var json: String {
        var object = JSONObject()
        object.field("status", self.status)
        return object.json
    }
}

/// `GET /readyz`: `{"ready": Bool, "checks": [{"name", "ok", "reason"?}]}`.
struct ReadinessBody: JSONBody {
    var report: ReadinessProbe.Report

    init(_ report: ReadinessProbe.Report) {
        self.report = report
    }

    var json: String {
        let checks = self.report.checks.map { status -> String in
            var check = JSONObject()
            check.field("name", status.name)
            check.field("ok", status.ok)
            if let reason = status.reason { check.field("reason", reason) }
            return check.json
        }
        var object = JSONObject()
        object.field("ready", self.report.ready)
        object.field("checks", raw: "[" + checks.joined(separator: ",") + "]")
        return object.json
    }
}

/// `GET /v1/stats`, contract section 6: `{"agency", "month", "handled", "resolved", "returned",
/// "onTime", "late", "lateRate"}` in that order, `agency` null for all agencies.
struct StatisticsBody: JSONBody {
    var figures: DossierFigures

    init(_ figures: DossierFigures) {
        self.figures = figures
    }

    var json: String {
        var object = JSONObject()
        object.field("agency", self.figures.agency)
        object.field("month", self.figures.month.description)
        object.field("handled", self.figures.handled)
        object.field("resolved", self.figures.resolved)
        object.field("returned", self.figures.returned)
        object.field("onTime", self.figures.onTime)
        object.field("late", self.figures.late)
        object.field("lateRate", self.figures.lateRate)
        return object.json
    }
}

/// `GET /v1/board`: `{"month", "months": [...], "total": <stats>, "agencies": [<stats>, ...]}`, each
/// `<stats>` exactly what `/v1/stats` answers for it.
struct BoardBody: JSONBody {
    var month: StatisticsMonth
    var months: [StatisticsMonth]
    var total: DossierFigures
    var agencies: [DossierFigures]

    var json: String {
        var object = JSONObject()
        object.field("month", self.month.description)
        let months = self.months.map { month -> String in
            var text = ""
            JSONLogHandler.appendString(&text, month.description)
            return text
        }
        object.field("months", raw: "[" + months.joined(separator: ",") + "]")
        object.field("total", raw: StatisticsBody(self.total).json)
        object.field("agencies", raw: "[" + self.agencies.map { StatisticsBody($0).json }.joined(separator: ",") + "]")
        return object.json
    }
}

/// Any error answer: `{"error": code, "message": text, "parameter"?: name}`.
struct ErrorBody: JSONBody {
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

    var json: String {
        var object = JSONObject()
        object.field("error", self.error)
        object.field("message", self.message)
        if let parameter = self.parameter { object.field("parameter", parameter) }
        return object.json
    }
}

extension DossierFigures {
    /// The figures as `/v1/stats` answers them (contract section 6).
    public var jsonText: String { StatisticsBody(self).json }
}
