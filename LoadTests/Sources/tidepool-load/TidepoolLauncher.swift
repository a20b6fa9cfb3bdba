import CEvent
import Foundation

/// Starts `tidepool serve` in a given scheduler mode for `--compare`, and stops it.
///
/// First tries `--mode MODE`; if the binary rejects that flag (older host), it
/// retries with `--config FILE` holding `mode = "MODE"`, and says so.
final class TidepoolLauncher {
    let process: Process
    let target: String
    let how: String

    private init(process: Process, target: String, how: String) {
        self.process = process
        self.target = target
        self.how = how
    }

    static func start(binary: String, project: String, mode: String, extraArgs: [String], logDirectory: URL) throws -> TidepoolLauncher {
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let port = try freePort()
        let common = ["serve", project, "--host", "127.0.0.1", "--port", "\(port)"] + extraArgs
        let log = logDirectory.appendingPathComponent("tidepool-\(mode).log")
        let first = try launch(binary, common + ["--mode", mode], log: log)
        if let ready = try waitReady(first, port: port, log: log) {
            return TidepoolLauncher(process: ready, target: "http://127.0.0.1:\(port)", how: "--mode \(mode)")
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard output.contains("--mode") || output.lowercased().contains("unknown option") else {
            throw LoadError.launch("tidepool (--mode \(mode)) exited before serving; its log (\(log.path)):\n\(output.suffix(2000))")
        }
        FileHandle.standardError.write(Data("tidepool-load: \(binary) rejects --mode; retrying with --config containing mode = \"\(mode)\"\n".utf8))
        let config = logDirectory.appendingPathComponent("tidepool-\(mode).toml")
        try Data("mode = \"\(mode)\"\n".utf8).write(to: config)
        let second = try launch(binary, common + ["--config", config.path], log: log)
        if let ready = try waitReady(second, port: port, log: log) {
            return TidepoolLauncher(process: ready, target: "http://127.0.0.1:\(port)", how: "--config mode = \"\(mode)\"")
        }
        let again = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw LoadError.launch(
            "this tidepool supports neither --mode nor config key `mode` (the scheduler is not wired in yet?); "
                + "compare two running hosts with --target URL --target URL instead. Its log:\n\(again.suffix(2000))")
    }

    /// SIGTERM, then SIGKILL after 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    private static func launch(_ binary: String, _ arguments: [String], log: URL) throws -> Process {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LoadError.launch("cannot start \(binary): \(error.localizedDescription) (give --tidepool PATH)")
        }
        return process
    }

    /// The process once `/_tidepool/health` answers 200, or nil if it exited first.
    private static func waitReady(_ process: Process, port: Int, log: URL) throws -> Process? {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if !process.isRunning { return nil }
            if BlockingGet.status("http://127.0.0.1:\(port)/_tidepool/health") == 200 { return process }
            usleep(100_000)
        }
        process.terminate()
        process.waitUntilExit()
        throw LoadError.launch("tidepool did not answer /_tidepool/health within 60 s; see \(log.path)")
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadError.launch("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw LoadError.launch("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One GET on a private event loop, for readiness checks outside a run.
enum BlockingGet {
    static func status(_ url: String) -> Int {
        guard let target = try? Target(url.components(separatedBy: "/_tidepool")[0]), let base = event_base_new() else { return 0 }
        defer { event_base_free(base) }
        var result = 0
        do {
            let connection = Connection(base: base, target: target, timeoutSeconds: 2)
            let path = "/_tidepool" + (url.components(separatedBy: "/_tidepool").dropFirst().first ?? "")
            let pending = InFlight(scheduled: 0, connection: nil) { _, status, _, _ in
                result = status
                event_base_loopbreak(base)
            }
            HTTP.get(path, target: target, on: connection.handle, pending: pending)
            event_base_dispatch(base)
        }
        return result
    }
}
