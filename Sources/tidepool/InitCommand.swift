import ArgumentParser
import Foundation
import TidepoolProject

/// `tidepool init flask [DIR] [--force]`: writes the bundled example app (the
/// shape of Vercel's `vc init flask`) so `tidepool serve DIR` has something to
/// run. DIR defaults to `./flask-app`, not `./flask` as `vc init` does: a
/// directory named `flask` in the working directory shadows the flask package
/// for any Python started there.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new project from a bundled template (available: \(InitTemplate.all.map(\.name).joined(separator: ", ")))."
    )

    @Argument(help: "Template name: \(InitTemplate.all.map(\.name).joined(separator: ", ")).")
    var template: String

    @Argument(help: "Directory to create (default: ./<template>-app). Must be empty or absent unless --force.")
    var directory: String?

    @Flag(help: "Write into a non-empty directory, overwriting the template's files (other files are kept).")
    var force = false

    func run() throws {
        let chosen = try InitTemplate.named(template)
        let path = directory ?? "\(chosen.name)-app"
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let written = try chosen.write(to: url, force: force)
        print("created \(chosen.name) project in \(url.path)")
        for file in written { print("  \(file)") }
        print("next: tidepool serve \(path)")
    }
}
