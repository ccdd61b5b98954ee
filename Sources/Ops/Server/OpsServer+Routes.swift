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
        return router
    }
}

extension Response {
    /// A JSON response (`application/json; charset=utf-8`).
    static func json(_ status: HTTPResponse.Status, _ body: some JSONBody) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body.json)))
    }
}
