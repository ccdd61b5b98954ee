import Foundation
import Hummingbird
import Store

/// The parameters of `GET /v1/stats`, checked.
struct StatisticsQuery: Sendable, Hashable {
    /// `nil`: all agencies together.
    var agency: String?
    var month: StatisticsMonth

    /// A malformed parameter, answered with 400.
    struct Failure: Error, Hashable {
        var parameter: String
        var message: String
    }

    /// Reads `agency` (optional; 1–64 of `A-Z a-z 0-9 . _ -`, as in requests) and `month`
    /// (optional `YYYY-MM`; default: the current month in Asia/Ho_Chi_Minh). Each at most once;
    /// other parameters are ignored.
    static func parse(_ parameters: Parameters, now: Date = Date()) -> Result<StatisticsQuery, Failure> {
        let agencies = parameters.getAll("agency")
        let months = parameters.getAll("month")
        guard agencies.count <= 1 else {
            return .failure(Failure(parameter: "agency", message: "agency may be given once"))
        }
        guard months.count <= 1 else {
            return .failure(Failure(parameter: "month", message: "month may be given once"))
        }
        if let agency = agencies.first, !AgencyCode.isValid(agency) {
            return .failure(Failure(parameter: "agency", message: "agency must be 1-64 characters of A-Z a-z 0-9 . _ -"))
        }
        var month = StatisticsMonth(containing: now)
        if let text = months.first {
            guard let parsed = StatisticsMonth(text) else {
                return .failure(Failure(parameter: "month", message: "month must be YYYY-MM with a month from 01 to 12"))
            }
            month = parsed
        }
        return .success(StatisticsQuery(agency: agencies.first, month: month))
    }
}

/// The contract's agency code rule (section 2): 1–64 of `A-Z a-z 0-9 . _ -`.
public enum AgencyCode {
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
