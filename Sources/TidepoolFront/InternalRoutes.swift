import CEvent
import Foundation
import TidepoolCore

/// `/_tidepool/…`: the host's own routes, answered before statics and the app.
extension HostRuntime {
    private struct Health: Encodable {
        let status: String
        let ready: Int
        let instances: Int
    }

    private struct Status: Encodable {
        struct ConfigurationView: Encodable {
            let host: String
            let port: Int
            let start: String
            let maxRequestBodyBytes: Int
            let maxDurationSeconds: Double
        }
        struct AppView: Encodable {
            let project: String
            let module: String
            let attribute: String
            let venv: String?
            let publicDirectory: String?
        }
        let phase: String
        let uptimeSeconds: Double
        let configuration: ConfigurationView
        let app: AppView
        let queued: Int
        let inFlight: Int
        let templatePid: Int32?
        let instances: [InstanceStatusView]
        let scheduler: SchedulerStatusView
    }

    func serveInternal(_ request: HTTPRequest, path: [UInt8]) {
        guard request.method == .get || request.method == .head else {
            sendError(request, .notFound)
            return
        }
        switch String(decoding: path, as: UTF8.self) {
        case "/_tidepool/health":
            sendJSON(request, Health(status: "ok", ready: readyInstanceCount, instances: scheduler.instances.count))
        case "/_tidepool/status":
            sendJSON(request, statusView())
        case "/_tidepool/metrics":
            sendBytes(request, metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case "/_tidepool", "/_tidepool/":
            sendBytes(request, Array(LivePage.html.utf8), contentType: "text/html; charset=utf-8")
        default:
            sendError(request, .notFound)
        }
    }

    private func statusView() -> Status {
        let c = configuration
        let at = now
        let snapshot = scheduler.snapshot(at: at)
        let slots = scheduler.config.slotsPerInstance
        return Status(
            phase: phase.rawValue,
            uptimeSeconds: Self.millis(since: startedAt) / 1000,
            configuration: .init(
                host: c.host, port: c.port, start: c.start.rawValue,
                maxRequestBodyBytes: c.maxRequestBodyBytes, maxDurationSeconds: c.maxDurationSeconds
            ),
            app: .init(
                project: app.projectDirectory, module: app.module, attribute: app.attribute,
                venv: app.venv, publicDirectory: app.publicDirectory
            ),
            queued: snapshot.queued,
            inFlight: snapshot.inFlight,
            templatePid: template?.pid,
            instances: snapshot.instances.map {
                InstanceStatusView($0, record: instances[Self.wire($0.id)], at: at, slots: slots)
            },
            scheduler: SchedulerStatusView(snapshot)
        )
    }

    private func sendJSON(_ request: HTTPRequest, _ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        request.addHeader("Content-Type", "application/json")
        request.addHeader("Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        data.withUnsafeBytes { _ = evbuffer_add(body, $0.baseAddress, $0.count) }
        request.sendReply(status: 200, reason: "OK", body: body)
    }
}
