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
            let instances: Int
            let threads: Int
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
        struct InstanceView: Encodable {
            let id: UInt32
            let pid: Int32?
            let state: String
            let inFlight: Int
            let served: Int
            let startKind: String
            let startMillis: Double?
            let rssBytes: UInt64?

            private enum CodingKeys: String, CodingKey {
                case id, pid, state, inFlight, served, startKind, startMillis, rssBytes
            }

            /// Unknown values are `null`, not missing keys: the schema stays the same in every state.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(pid, forKey: .pid)
                try container.encode(state, forKey: .state)
                try container.encode(inFlight, forKey: .inFlight)
                try container.encode(served, forKey: .served)
                try container.encode(startKind, forKey: .startKind)
                try container.encode(startMillis, forKey: .startMillis)
                try container.encode(rssBytes, forKey: .rssBytes)
            }
        }
        let phase: String
        let uptimeSeconds: Double
        let configuration: ConfigurationView
        let app: AppView
        let queued: Int
        let inFlight: Int
        let templatePid: Int32?
        let instances: [InstanceView]
    }

    func serveInternal(_ request: UnsafeMutablePointer<evhttp_request>, path: [UInt8]) {
        let method = evhttp_request_get_command(request)
        guard method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD else {
            sendError(request, .notFound)
            return
        }
        switch String(decoding: path, as: UTF8.self) {
        case "/_tidepool/health":
            sendJSON(request, Health(status: "ok", ready: pool.readyCount, instances: pool.instances.count))
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
        return Status(
            phase: phase.rawValue,
            uptimeSeconds: Self.millis(since: startedAt) / 1000,
            configuration: .init(
                host: c.host, port: c.port, instances: c.instances, threads: c.threads, start: c.start.rawValue,
                maxRequestBodyBytes: c.maxRequestBodyBytes, maxDurationSeconds: c.maxDurationSeconds
            ),
            app: .init(
                project: app.projectDirectory, module: app.module, attribute: app.attribute,
                venv: app.venv, publicDirectory: app.publicDirectory
            ),
            queued: pool.queuedCount,
            inFlight: pool.inFlightCount,
            templatePid: template?.pid,
            instances: pool.instances.map { slot in
                let record = instances[slot.id]
                return Status.InstanceView(
                    id: slot.id, pid: record?.pid, state: slot.state.rawValue, inFlight: slot.inFlight,
                    served: record?.served ?? 0, startKind: (record?.kind ?? .fork).name,
                    startMillis: record?.startMillis, rssBytes: record?.stats?.rssBytes
                )
            }
        )
    }

    private func sendJSON(_ request: UnsafeMutablePointer<evhttp_request>, _ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Content-Type", "application/json")
        evhttp_add_header(headers, "Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        data.withUnsafeBytes { _ = evbuffer_add(body, $0.baseAddress, $0.count) }
        evhttp_send_reply(request, 200, "OK", body)
    }
}
