"""A small Flask app for instance_driver.py (spawn and fork)."""
import random
from flask import Flask, jsonify, request

app = Flask(__name__)

@app.get("/api/data")
def data():
    return jsonify(ok=True, items=[1, 2, 3])

@app.route("/api/items/<item_id>", methods=["GET", "POST"])
def item(item_id):
    return jsonify(id=item_id, args=request.args.to_dict(), body=request.get_data(as_text=True))

@app.get("/rand")
def rand():
    return str(random.random())
