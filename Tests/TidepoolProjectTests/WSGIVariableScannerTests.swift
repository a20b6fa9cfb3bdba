import Testing

@testable import TidepoolProject

@Suite("Top-level binding scanner")
struct WSGIVariableScannerTests {
    @Test("forms that bind `app` at module level", arguments: [
        "app = Flask(__name__)",
        "app: Flask = Flask(__name__)",
        "app=make()",
        "application = app = Flask(__name__)",
        "def app(environ, start_response):\n    pass",
        "async def app(scope, receive, send):\n    pass",
        "class app:\n    pass",
        "from backend.server import app",
        "from backend.server import create, app as app",
        "from .factory import make as app",
        "import backend.server as app",
        "from backend import (\n    create,\n    app,  # the WSGI app\n)",
    ])
    func binds(source: String) {
        #expect(WSGIVariableScanner.binds("app", in: source))
    }

    @Test("forms that do not", arguments: [
        "def create_app():\n    app = Flask(__name__)\n    return app",
        "if True:\n    app = 1",
        "# app = Flask(__name__)",
        "app == other",
        "apps = []",
        "my_app = Flask(__name__)",
        "from backend import application",
        "from backend import app as wsgi",
        "print('app = 1')",
    ])
    func doesNotBind(source: String) {
        #expect(!WSGIVariableScanner.binds("app", in: source))
    }

    @Test("`app` is preferred to `application`")
    func preference() {
        #expect(WSGIVariableScanner.wsgiVariable(in: "application = x\napp = y\n") == "app")
        #expect(WSGIVariableScanner.wsgiVariable(in: "application = x\n") == "application")
        #expect(WSGIVariableScanner.wsgiVariable(in: "x = 1\n") == nil)
    }
}
