import Foundation

/// A one-line progress bar on stderr, redrawn each second; only made when
/// stderr is a terminal, so logs and CI output stay clean.
final class Progress {
    private var drawn = false

    static func ifTerminal() -> Progress? { isatty(2) == 1 ? Progress() : nil }

    func draw(elapsed: Double, total: Double, phase: String, sent: Int, done: Int, errors: Int, instances: Int?) {
        let width = 30
        let fraction = total > 0 ? min(max(elapsed / total, 0), 1) : 1
        let filled = Int(Double(width) * fraction)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(
            format: "\r[%@] %5.1f/%.0fs %-12@ sent %d  ok %d  err %d  instances %@ ",
            bar, elapsed, total, phase.prefix(12).description, sent, done, errors, instances.map(String.init) ?? "?")
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
