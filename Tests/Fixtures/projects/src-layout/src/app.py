from flask import Flask
from helpers import greeting

app = Flask(__name__)
