"""TOTP second factor (RFC 6238, via pyotp): enrolment with a QR code (segno), verification, removal.

A code is accepted for the current 30-second step and one step either side; each step is
accepted once per user (the last accepted step is stored), so an observed code cannot be replayed.
"""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import segno
from sqlalchemy import or_, update

from zipshort.database import publish_after_commit, rowcount, write_transaction
from zipshort.errors import Forbidden, ValidationError
from zipshort.events import LoginFailed, TotpChangeFailed, TotpDisabled, TotpEnabled
from zipshort.extensions import db
from zipshort.models import User
from zipshort.runtime import Runtime

CODE_RE = re.compile(r"\d{6}")
SECRET_RE = re.compile(r"[A-Z2-7]{16,64}")
INVALID_CODE = "Invalid code"


def require_enabled(rt: Runtime) -> None:
    """Raise Forbidden unless TOTP is enabled on this server."""
    if not rt.settings.features.totp_enabled:
        raise Forbidden("TOTP is disabled", code="totp_disabled")


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(rt: Runtime, user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=rt.settings.features.totp_issuer)


def qr_svg_data_url(uri: str) -> str:
    """The URI as an SVG QR code in a data: URL (allowed by the app's CSP for images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")


def _matching_step(secret: str, code: object, now: dt.datetime) -> int | None:
    if not isinstance(code, str):
        code = str(code) if isinstance(code, int) else ""
    code = code.strip().replace(" ", "")
    if not CODE_RE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def _accept(user: User, secret: str, step: int, enabling: Runtime | None = None) -> bool:
    """Record ``step`` as used (and the secret when ``enabling``: then ``user.totp_enabled`` is published on
    commit) unless it or a later one was used already."""
    values: dict[str, object] = {"totp_last_step": step}
    if enabling is not None:
        values["totp_secret"] = secret
    with write_transaction(db.session):
        result = db.session.execute(update(User).where(
            User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(**values).execution_options(synchronize_session=False))
        if enabling is not None and rowcount(result) == 1:
            publish_after_commit(db.session, enabling.events, TotpEnabled(user_id=user.id, username=user.username,
                                                                          actor_id=user.id))
    db.session.expire(user)
    return rowcount(result) == 1


def verify_login(user: User, code: object, now: dt.datetime | None = None) -> None:
    """Check the login's second factor.

    Raises:
        ValidationError: wrong, malformed or already used code.
    """
    step = _matching_step(user.totp_secret or "", code, now or dt.datetime.now(dt.timezone.utc))
    if step is None or not _accept(user, user.totp_secret or "", step):
        raise ValidationError(INVALID_CODE, code="invalid_totp", field="code")


def check_login_code(rt: Runtime, user: User, code: object, now: dt.datetime | None = None) -> None:
    """The second step of a sign-in: rate limited per user like a login; a wrong code is published.

    Raises:
        ValidationError: wrong, malformed or already used code. RateLimited.
    """
    rt.limiter.hit(rt.settings.ratelimit.login, "totp", user.id)
    try:
        verify_login(user, code, now)
    except ValidationError:
        rt.events.publish(LoginFailed(username=user.username, reason="wrong_code", actor_id=user.id))
        raise


def _refused(rt: Runtime, user: User, change: str) -> None:
    """Publish a refused two-factor change (nothing was committed, so it is published directly)."""
    rt.events.publish(TotpChangeFailed(user_id=user.id, username=user.username, change=change, reason="wrong_code",
                                       actor_id=user.id))


def enable(rt: Runtime, user: User, secret: object, code: object, now: dt.datetime | None = None) -> None:
    """Turn TOTP on with ``secret`` once ``code`` proves the app has it.

    Raises:
        Forbidden (TOTP off on this server), ValidationError (missing/invalid secret or code).
    """
    require_enabled(rt)
    if code in (None, ""):
        raise ValidationError("Missing code", code="missing_code", field="code")
    if not isinstance(secret, str) or not secret:
        raise ValidationError("Missing secret", code="missing_secret", field="secret")
    secret = secret.strip().upper()
    if not SECRET_RE.fullmatch(secret):
        raise ValidationError("Invalid secret", code="invalid_secret", field="secret")
    step = _matching_step(secret, code, now or dt.datetime.now(dt.timezone.utc))
    if step is None or not _accept(user, secret, step, enabling=rt):
        _refused(rt, user, "enable")
        raise ValidationError(INVALID_CODE, code="invalid_totp", field="code")


def disable(rt: Runtime, user: User, code: object, now: dt.datetime | None = None) -> None:
    """Turn TOTP off; needs a current code.

    Raises:
        Forbidden (TOTP off on this server), ValidationError (not enabled, bad code).
    """
    require_enabled(rt)
    if not user.totp_secret:
        raise ValidationError("You don't have TOTP enabled", code="totp_not_enabled")
    try:
        verify_login(user, code, now)
    except ValidationError:
        _refused(rt, user, "disable")
        raise
    with write_transaction(db.session):
        db.session.execute(update(User).where(User.id == user.id).values(totp_secret=None)
                           .execution_options(synchronize_session=False))
        publish_after_commit(db.session, rt.events, TotpDisabled(user_id=user.id, username=user.username,
                                                                 actor_id=user.id))
    db.session.expire(user)
