@testable import TidepoolCore

/// One frame of every kind, with fields chosen to hit the codec's edges: empty
/// and non-ASCII strings, bytes that are not UTF-8, extreme integers.
enum FrameSamples {
    static let all: [Frame] = [
        .ready(Ready(pid: 4242, kind: .fork, threads: 8, phases: [
            StartPhase(name: "fork", nanos: 2_600_000),
            StartPhase(name: "first-call", nanos: .max),
        ])),
        .ready(Ready(pid: -1, kind: .template, threads: 0, phases: [])),
        .requestHead(id: 1, RequestHead(
            method: "POST", target: Array("/caf%C3%A9?q=1&q=2".utf8), versionMajor: 1, versionMinor: 0,
            headers: [Header("Host", "example.com"), Header(name: [0x58], value: [0xFF, 0x00, 0x80]), Header("", "")],
            remoteAddress: "::1", remotePort: 65535, serverName: "tidepool", serverPort: 3000,
            scheme: "https", timeoutMillis: .max
        )),
        .requestHead(id: .max, RequestHead(method: "", target: [])),
        .requestBody(id: 7, Array(repeating: 0xAB, count: 300)),
        .requestBody(id: 7, []),
        .requestEnd(id: 7),
        .responseHead(id: 9, ResponseHead(status: 200, reason: "OK", headers: [Header("content-type", "text/plain")])),
        .responseHead(id: 9, ResponseHead(status: 599, reason: "Ünïcode réason", headers: [])),
        .responseBody(id: 9, Array("hello".utf8)),
        .responseEnd(id: 9, ResponseEnd(cpuNanos: 123, wallNanos: 456)),
        .responseEnd(id: 9, ResponseEnd(cpuNanos: 0, wallNanos: .max, outcome: .aborted(reason: "generator raised"))),
        .cancel(id: 3),
        .log(LogRecord(level: .error, message: "Traceback (most recent call last):\n  …")),
        .log(LogRecord(level: .debug, message: "")),
        .stats(InstanceStats(rssBytes: 50 << 20, cpuNanos: 1_000_000_000, inFlight: 32)),
        .drain,
        .forkInstance(instanceID: 12),
        .forked(instanceID: 12, pid: 31337),
        .failed(StartFailure(phase: "import", message: "ModuleNotFoundError: No module named 'flask'")),
    ]
}
