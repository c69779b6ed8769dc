"""HTTP plumbing: the request class that lets an upload view spool file parts straight into storage."""

from __future__ import annotations

from typing import IO, Any, Callable

from flask import Request

SPOOL_KEY = "zipshort.spool"


class ZipshortRequest(Request):
    """Flask's request; when a view set ``environ[SPOOL_KEY]``, file parts are written through it.

    Werkzeug would otherwise spool every file part to its own temp file, which the upload then
    copies into storage: one write of the whole file more than needed.
    """

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        factory: Callable[[], Any] | None = self.environ.get(SPOOL_KEY)
        if factory is not None:
            return factory()
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)
