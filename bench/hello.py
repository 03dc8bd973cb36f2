"""The baseline: Flask's hello world, served by gunicorn exactly as the wall is."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
