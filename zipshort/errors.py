"""The ZipshortError hierarchy: what went wrong, as a status, a machine code, a message and optional extra facts.

Services raise these; ``errorhandlers`` renders them in the caller's dialect. Nothing
here imports Flask.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping


class ZipshortError(Exception):
    """Base of every error a caller may see."""

    status: int = 400
    code: str = "invalid_request"
    message: str = "Invalid request"

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 field: str | None = None, retry_after: int | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.field = field
        self.retry_after = retry_after
        # Facts a dialect may show beside the message (RFC 7807 extension members: the short code, the
        # threshold, ...), JSON values only; read-only, empty when none.
        self.extra: Mapping[str, Any] = MappingProxyType(dict(extra or {}))
        super().__init__(self.message)

    def with_message(self, message: str, status: int | None = None) -> "ZipshortError":
        """The same error with a dialect-specific wording (and status)."""
        return type(self)(message, code=self.code, status=status or self.status, field=self.field,
                          retry_after=self.retry_after, extra=self.extra)


class ValidationError(ZipshortError):
    """Input that can never be accepted as sent."""

    status = 400
    code = "validation_error"


class Unauthorized(ZipshortError):
    """No or invalid credentials."""

    status = 401
    code = "unauthorized"
    message = "Unauthorized"


class Forbidden(ZipshortError):
    """Credentials are fine, the action is not allowed."""

    status = 403
    code = "forbidden"
    message = "Forbidden"


class NotFound(ZipshortError):
    """No such thing, or not yours (no existence oracle)."""

    status = 404
    code = "not_found"
    message = "Not found"


class Gone(ZipshortError):
    """A link or file that existed but is disabled, expired or used up."""

    status = 410
    code = "gone"
    message = "Gone"


class Conflict(ZipshortError):
    """A unique value is already taken."""

    status = 409
    code = "conflict"
    message = "Already exists"


class VanityTaken(Conflict):
    """The requested code is already used on that domain."""

    code = "vanity_taken"
    message = "Vanity already taken"


class QuotaExceeded(ZipshortError):
    """A per-user quota would be exceeded."""

    status = 403
    code = "quota_exceeded"
    message = "Quota exceeded"


class RateLimited(ZipshortError):
    """Too many attempts; retry_after says when to come back."""

    status = 429
    code = "rate_limited"
    message = "Too many requests"


class PasswordRequired(ZipshortError):
    """The resource is password protected and no valid password came with the request."""

    status = 401
    code = "password_required"
    message = "Password required"


class Unavailable(ZipshortError):
    """A dependency (database, storage) is unavailable; try again."""

    status = 503
    code = "unavailable"
    message = "Service unavailable"
