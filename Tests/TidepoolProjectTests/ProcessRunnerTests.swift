import Foundation
import Glibc
import Testing

@testable import TidepoolProject

/// The helper runner (venv, pip, the build command) on its own posix_spawn:
/// what the child gets, what comes back, and how a failure to start reads.
@Suite struct ProcessRunnerTests {
    private func sh(_ script: String, directory: URL? = nil, environment: [String: String]? = nil) throws -> ProcessRunner.Outcome {
        try ProcessRunner.run("/bin/sh", ["-c", script], directory: directory, environment: environment, echo: false)
    }

    @Test func stdoutAndStderrMergeInOrderAndTheStatusComesBack() throws {
        let outcome = try sh("echo one; echo two >&2; echo three; exit 7")
        #expect(outcome.status == 7)
        #expect(outcome.output == "one\ntwo\nthree\n")
        #expect(outcome.lastLines(2) == ["two", "three"])
    }

    @Test func aChildKilledBySignalReportsAsAShellDoes() throws {
        #expect(try sh("kill -9 $$").status == 128 + 9)
        #expect(try sh("kill -TERM $$").status == 128 + 15)
    }

    @Test func directoryEnvironmentAndStdinAreTheChildsOnly() throws {
        let dir = try temporaryDirectory("runner")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = try sh("pwd; echo \"[$ONLY]\" \"[$HOME]\"; cat", directory: dir, environment: ["ONLY": "yes", "PATH": "/usr/bin:/bin"])
        let lines = outcome.output.split(separator: "\n").map(String.init)
        #expect(URL(fileURLWithPath: lines[0]).resolvingSymlinksInPath().path == dir.resolvingSymlinksInPath().path)
        #expect(lines[1] == "[yes] []")  // nothing of ours but what was passed
        #expect(lines.count == 2)  // stdin is /dev/null: `cat` ends at once
    }

    /// None of our descriptors reach the child: a helper must not hold a
    /// client's socket or the host's channels open while it runs.
    @Test func theChildInheritsOnlyStdinStdoutAndStderr() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)  // without close-on-exec, on purpose
        defer { close(fds[0]); close(fds[1]) }
        let outcome = try sh("ls /proc/self/fd")
        #expect(outcome.output.split(separator: "\n").sorted() == ["0", "1", "2", "3"])  // 3: ls's own directory
    }

    @Test func theChildLeadsAProcessGroupOfItsOwn() throws {
        let outcome = try sh("read pid comm state ppid pgid rest < /proc/$$/stat; echo $pid $pgid")
        let fields = outcome.output.split(whereSeparator: \.isWhitespace)
        #expect(fields.count == 2 && fields[0] == fields[1], "\(outcome.output)")
    }

    @Test func outputPastOneMegabyteKeepsItsEnd() throws {
        let outcome = try sh("head -c 1500000 /dev/zero | tr '\\0' a; echo END")
        #expect(outcome.output.utf8.count == 1 << 20)
        #expect(outcome.output.hasSuffix("aaaaEND\n"))
    }

    @Test func aProgramThatCannotStartSaysWhich() {
        #expect {
            try ProcessRunner.run("/no/such/python", ["-V"], echo: false)
        } throws: { error in
            "\(error)" == "could not start /no/such/python: No such file or directory"
        }
    }
}
