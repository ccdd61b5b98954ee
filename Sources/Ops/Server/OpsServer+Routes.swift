import Foundation
import Hummingbird
import NIOCore
import Store

extension OpsServer {
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let prometheus = self.prometheus
        let readiness = self.readiness
        let statistics = self.statistics
        let logger = self.logger
        let statusHistory = self.statusHistory

        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: prometheus.emitToBuffer())))
        }

        router.get("healthz") { _, _ -> Response in
            .json(.ok, HealthBody(status: "alive"))
        }

        router.get("readyz") { _, _ -> Response in
            let report = await readiness.evaluate()
            return .json(report.ready ? .ok : .serviceUnavailable, ReadinessBody(report))
        }

        router.get("v1/stats") { request, _ -> Response in
            let query: StatisticsQuery
            switch StatisticsQuery.parse(request.uri.queryParameters) {
            case .success(let parsed): query = parsed
            case .failure(let error): return .json(.badRequest, ErrorBody(error))
            }
            guard let statistics else {
                return .json(.serviceUnavailable, ErrorBody(error: "unavailable", message: "statistics are not configured"))
            }
            do {
                let figures = try await statistics.figures(agency: query.agency, month: query.month)
                return .json(.ok, StatisticsBody(figures))
            } catch {
                logger.warning("Statistics query failed", metadata: .ops([.error: "\(errorSummary(error))"]))
                return .json(.serviceUnavailable, ErrorBody(error: "unavailable", message: "statistics are unavailable right now"))
            }
        }
        router.get("v1/board") { request, _ -> Response in
            let query: StatisticsQuery
            switch StatisticsQuery.parse(request.uri.queryParameters) {
            case .success(let parsed): query = parsed
            case .failure(let error): return .json(.badRequest, ErrorBody(error))
            }
            guard let statistics else {
                return .json(.serviceUnavailable, ErrorBody(error: "unavailable", message: "statistics are not configured"))
            }
            do {
                async let total = statistics.figures(agency: nil, month: query.month)
                async let agencies = statistics.board(month: query.month)
                async let months = statistics.months(limit: 36)
                return .json(.ok, try await BoardBody(month: query.month, months: months, total: total, agencies: agencies))
            } catch {
                logger.warning("Board query failed", metadata: .ops([.error: "\(errorSummary(error))"]))
                return .json(.serviceUnavailable, ErrorBody(error: "unavailable", message: "statistics are unavailable right now"))
            }
        }

        router.get("v1/status") { _, _ -> Response in
            let report = StatusReport(
                reading: MetricsReading(prometheusText: prometheus.emitToString()), history: statusHistory.all,
                window: statusHistory.window, now: Date())
            return .json(.ok, StatusBody(report: report))
        }

        router.get("/") { request, _ -> Response in
            let lang = request.uri.queryParameters.get("lang") == "en" ? "en" : "vi"
            return .page(StatusPage.html(lang: lang), contentType: "text/html; charset=utf-8")
        }
        router.get("status/page.js") { _, _ -> Response in
            .page(StatusPage.script, contentType: "text/javascript; charset=utf-8")
        }
        router.get("status/page.css") { _, _ -> Response in
            .page(StatusPage.css, contentType: "text/css; charset=utf-8")
        }
        return router
    }
}

extension Response {
    /// A status page resource, with the page's Content-Security-Policy and no caching (a new
    /// binary may serve a new page).
    static func page(_ text: String, contentType: String) -> Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache"]
        headers[.contentSecurityPolicy] = StatusPage.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A JSON response (`application/json; charset=utf-8`).
    static func json(_ status: HTTPResponse.Status, _ body: some JSONBody) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body.json)))
    }
}
