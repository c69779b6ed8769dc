"""The yardstick: a bare Flask redirect (dict lookup) on waitress, nothing else.

Run by bench/redirect.py; usable alone: python bench/bare_flask.py --port 5001 --threads 8
"""

from __future__ import annotations

import argparse
import sys

import waitress
from flask import Flask, abort, redirect

LINKS = {"plain": "https://example.com/plain", "limited": "https://example.com/limited"}


def make_app() -> Flask:
    app = Flask(__name__)

    @app.get("/go/<code>")
    def go(code: str):
        destination = LINKS.get(code)
        if destination is None:
            abort(404)
        return redirect(destination, 302)

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--codes", type=int, default=0, help="also /go/c0 … /go/c<N-1> (bench/redirect.py --codes)")
    parser.add_argument("--switch-interval-ms", type=float, default=0.5, help="same GIL setting as zipshort serve")
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval_ms / 1000)
    LINKS.update({f"c{i}": f"https://example.com/many/{i}" for i in range(args.codes)})
    waitress.serve(make_app(), host="127.0.0.1", port=args.port, threads=args.threads, ident="bare")
