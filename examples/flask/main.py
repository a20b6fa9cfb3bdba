"""Example Flask app, shaped like the one Vercel's `vc init flask` creates.

Tidepool finds `main.py` at the project root and serves its module-level
`app` (the WSGI callable). Files under `public/` are served by Tidepool's
front proxy directly, without calling the app.
"""

from flask import Blueprint, Flask, jsonify, render_template

ITEMS = {
    1: {"id": 1, "name": "Sample Item 1", "value": 100},
    2: {"id": 2, "name": "Sample Item 2", "value": 200},
    3: {"id": 3, "name": "Sample Item 3", "value": 300},
}

api = Blueprint("api", __name__, url_prefix="/api")


@api.get("/data")
def get_data():
    return jsonify({"data": list(ITEMS.values()), "total": len(ITEMS)})


@api.get("/items/<int:item_id>")
def get_item(item_id: int):
    item = ITEMS.get(item_id)
    if item is None:
        return jsonify({"error": "Item not found", "id": item_id}), 404
    return jsonify({"item": item})


def create_app() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(api)

    @app.get("/")
    def index():
        return render_template("index.html", items=list(ITEMS.values()))

    # --- Tidepool load-test routes (NOT part of Vercel's template) ---------
    # /api/hello, /api/sleep, /api/cpu and /api/stream exist so the load
    # tests and benchmarks have I/O-bound, CPU-bound and streaming work to
    # drive. Delete this block (and loadtest_routes.py) in a real app.
    from loadtest_routes import loadtest

    app.register_blueprint(loadtest)
    # -----------------------------------------------------------------------

    return app


app = create_app()

if __name__ == "__main__":
    app.run(debug=True, port=5001)
