"""The yardstick: a bare Flask redirect (dict lookup), a raw upload and ``send_file``, nothing else, on waitress
or on granian's workers.

Run by bench/redirect.py; usable alone:
    python bench/bare_flask.py --port 5001 --threads 8               # waitress, one process
    python bench/bare_flask.py --port 5001 --threads 8 --workers 2   # granian, two worker processes
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from flask import Flask, abort, redirect, request, send_from_directory

LINKS = {"plain": "https://example.com/plain", "limited": "https://example.com/limited"}


def make_app() -> Flask:
    """The app; /go/c0 … /go/c<N-1> too with BARE_FLASK_CODES=N (bench/redirect.py --codes)."""
    links = {**LINKS, **{f"c{i}": f"https://example.com/many/{i}" for i in range(int(os.environ.get(
        "BARE_FLASK_CODES", "0")))}}
    app = Flask(__name__)

    @app.get("/go/<code>")
    def go(code: str):
        destination = links.get(code)
        if destination is None:
            abort(404)
        return redirect(destination, 302)

    folder = Path(os.environ.get("BARE_FLASK_FILES") or tempfile.gettempdir())

    @app.post("/upload")
    def upload():
        """The raw-stream ceiling (bench/files.py): the request body, as it streams in, into a file (fsynced, as
        zipshort's storage does), nothing parsed."""
        with tempfile.NamedTemporaryFile(dir=folder, prefix="bare-upload-") as fh:
            while chunk := request.stream.read(1024 * 1024):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
            return {"bytes": fh.tell()}

    @app.get("/files/<name>")
    def download(name: str):
        """Flask's ``send_file`` of a file in BARE_FLASK_FILES (bench/files.py's download yardstick)."""
        return send_from_directory(folder, name)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads; granian: Python threads per worker")
    parser.add_argument("--workers", type=int, default=0, help="0: waitress; N: granian with N worker processes")
    parser.add_argument("--codes", type=int, default=0, help="also /go/c0 … /go/c<N-1> (bench/redirect.py --codes)")
    parser.add_argument("--switch-interval-ms", type=float, default=0.5, help="same GIL setting as zipshort serve")
    args = parser.parse_args()
    os.environ["BARE_FLASK_CODES"] = str(args.codes)
    sys.setswitchinterval(args.switch_interval_ms / 1000)
    if not args.workers:
        import waitress

        waitress.serve(make_app(), host="127.0.0.1", port=args.port, threads=args.threads, ident="bare",
                       max_request_body_size=1 << 34)
        return
    from granian.constants import HTTPModes, Interfaces
    from granian.server import MPServer

    # The same granian settings as `zipshort serve --workers N` (zipshort/serving.py: run_workers).
    MPServer("bare_flask:make_app", address="127.0.0.1", port=args.port, interface=Interfaces.WSGI,
             workers=args.workers, blocking_threads=args.threads, http=HTTPModes.http1, websockets=False,
             factory=True, working_dir=Path(__file__).parent, log_enabled=False).serve()


if __name__ == "__main__":
    main()
