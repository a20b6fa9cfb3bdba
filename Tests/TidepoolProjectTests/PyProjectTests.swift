import Testing

@testable import TidepoolProject

@Suite("pyproject.toml")
struct PyProjectTests {
    @Test("reads dependencies, scripts, [tool.vercel] entrypoint and build script")
    func reads() throws {
        let text = """
            [project]
            name = "x"
            dependencies = ["flask>=3", "requests"]

            [project.scripts]
            app = "backend.server:app"
            cli = "backend.cli:main"

            [tool.vercel]
            entrypoint = "main:app"

            [tool.vercel.scripts]
            build = "python build.py"

            [tool.black]
            line-length = 100
            """
        let p = try PyProject.parse(text)
        #expect(p.dependencies == ["flask>=3", "requests"])
        #expect(p.scripts == ["app": "backend.server:app", "cli": "backend.cli:main"])
        #expect(p.vercelEntrypoint == "main:app")
        #expect(p.vercelBuildScript == "python build.py")
    }

    @Test("absent dependencies differ from an empty list")
    func absentVersusEmpty() throws {
        #expect(try PyProject.parse("[project]\nname = \"x\"\n").dependencies == nil)
        #expect(try PyProject.parse("[project]\ndependencies = []\n").dependencies == [])
    }

    @Test("wrong types name the key", arguments: [
        ("[project]\ndependencies = \"flask\"\n", "`project.dependencies` must be an array of strings"),
        ("[project]\ndependencies = [1]\n", "`project.dependencies[0]` must be a string"),
        ("[tool.vercel]\nentrypoint = 3\n", "`tool.vercel.entrypoint` must be a string"),
        ("[tool.vercel.scripts]\nbuild = true\n", "`tool.vercel.scripts.build` must be a string"),
        ("tool = 1\n", "`tool` must be a table"),
    ])
    func wrongTypes(text: String, message: String) {
        let error = projectError { _ = try PyProject.parse(text) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("invalid TOML says where")
    func syntax() {
        let error = projectError { _ = try PyProject.parse("[project\nname = \"x\"\n") }
        #expect(error?.description.contains("pyproject.toml is invalid: not valid TOML at line 1") == true, "\(String(describing: error))")
    }
}
