"""Accounts: creation, login, roles (who may act on whom: services/roles.py), quotas, disable, delete."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError

from zipshort.codes import could_be_code
from zipshort.database import lock_key, publish_after_commit, write_transaction
from zipshort.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationError
from zipshort.events import (
    Event,
    LoginFailed,
    PasswordChanged,
    QuotaChanged,
    RoleChanged,
    SettingsChanged,
    UserCreated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserUpdated,
)
from zipshort.extensions import db
from zipshort.inputs import check_text
from zipshort.models import File, FilesQuota, PartialUpload, Role, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import files, invites, sessions
from zipshort.services.roles import can_manage, managed_by

log = logging.getLogger("zipshort.accounts")
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_PASSWORD_LENGTH = 1024
MAX_AVATAR_LENGTH = 255
INVALID_LOGIN = "Invalid username or password"
SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$", re.IGNORECASE)
SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4, "pb": 1024 ** 5}
MAX_QUOTA_BYTES = 2**53  # 8 PiB: more than any disk, still exact as a JSON number
MAX_QUOTA_COUNT = 2**31 - 1  # the file and URL counters are 32-bit columns


@dataclass(frozen=True)
class Quota:
    """A user's limits; None fields mean unlimited. files_type NONE clears the file limits."""

    files_type: str = FilesQuota.NONE.value
    max_bytes: int | None = None
    max_bytes_text: str | None = None
    max_files: int | None = None
    max_urls: int | None = None


@dataclass(frozen=True)
class UserChanges:
    """A partial update of a user; fields left as None are unchanged."""

    username: str | None = None
    password: str | None = None
    role: Role | None = None
    quota: Quota | None = None
    clear_quota: bool = False
    disabled: bool | None = None
    avatar: str | None = None
    view: dict[str, Any] | None = None


def parse_size(value: Any) -> int:
    """A human size (``10gb``, ``512mb``, ``1024``) in bytes.

    Raises:
        ValueError: not a size, or more than MAX_QUOTA_BYTES.
    """
    if isinstance(value, bool):
        raise ValueError("not a size")
    if isinstance(value, (int, float)):
        size = value
    else:
        match = SIZE_RE.match(str(value)) if len(str(value)) <= 32 else None  # kept as text in a 32-character column
        if not match:
            raise ValueError("not a size")
        size = float(match.group(1)) * SIZE_UNITS[(match.group(2) or "b").lower()]
    if not 0 <= size <= MAX_QUOTA_BYTES:  # also refuses NaN and infinity (a 300-digit size)
        raise ValueError("out of range")
    return int(size)


def _int_or_error(value: Any, message: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(message, code="invalid_quota")
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(message, code="invalid_quota") from None
    if abs(number) > MAX_QUOTA_COUNT:
        raise ValidationError(f"{message} (at most {MAX_QUOTA_COUNT})", code="invalid_quota")
    return number


def parse_quota(data: Any) -> Quota:
    """Zipline's quota object → a Quota, with Zipline's error texts."""
    if not isinstance(data, dict):
        raise ValidationError("quota must be an object", code="invalid_quota", field="quota")
    files_type = data.get("filesType", FilesQuota.NONE.value)
    if files_type not in (q.value for q in FilesQuota):
        raise ValidationError("Invalid filesType (BY_BYTES, BY_FILES, NONE)", code="invalid_quota")
    max_urls = _int_or_error(data.get("maxUrls"), "Invalid maxUrls")
    max_files = _int_or_error(data.get("maxFiles"), "Invalid maxFiles")
    max_bytes = max_bytes_text = None
    if files_type == FilesQuota.BY_BYTES.value:
        raw = data.get("maxBytes")
        if raw is None or raw == "":
            raise ValidationError("maxBytes is required", code="invalid_quota")
        try:
            max_bytes = parse_size(raw)
        except ValueError:
            raise ValidationError("Invalid maxBytes", code="invalid_quota") from None
        max_bytes_text = str(raw).strip()
        if max_bytes == 0:
            files_type, max_bytes, max_bytes_text = FilesQuota.NONE.value, None, None
    if files_type == FilesQuota.BY_FILES.value:
        if max_files is None:
            raise ValidationError("maxFiles is required", code="invalid_quota")
        if max_files < 0:
            raise ValidationError("Invalid maxFiles", code="invalid_quota")
    return Quota(files_type=files_type, max_bytes=max_bytes, max_bytes_text=max_bytes_text,
                          max_files=max_files, max_urls=max_urls if max_urls and max_urls > 0 else None)


def validate_username(username: object) -> str:
    """Return a valid username or raise ValidationError."""
    if not isinstance(username, str) or not username.strip():
        raise ValidationError("Username is required", field="username")
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError("Username must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                              field="username")
    return username


def validate_password(password: object) -> str:
    """Return a usable password or raise ValidationError."""
    if not isinstance(password, str) or not password:
        raise ValidationError("Password is required", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field="password")
    return password


VIEW_TEXT_FIELDS = {"embedTitle": False, "embedDescription": True, "embedSiteName": False, "embedColor": False,
                    "align": False, "content": True}  # name → multi-line allowed
VIEW_FLAGS = ("enabled", "showMimetype", "showTags", "showFolder", "embed")
VIEW_TEXT_MAX = 300


def validate_view(view: object) -> dict[str, Any]:
    """Zipline's ``view`` settings (file page and embeds): text fields short and free of control characters,
    flags booleans, ``embedColor`` a #rrggbb colour.

    Raises:
        ValidationError: naming the field (``view.embedTitle`` …).
    """
    if not isinstance(view, dict):
        raise ValidationError("view must be an object", field="view")
    for key, multiline in VIEW_TEXT_FIELDS.items():
        value = view.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > VIEW_TEXT_MAX:
            raise ValidationError(f"view.{key} must be text of at most {VIEW_TEXT_MAX} characters", field=f"view.{key}")
        check_text(value, f"view.{key}", multiline=multiline)
    for key in VIEW_FLAGS:
        if key in view and view[key] is not None and not isinstance(view[key], bool):
            raise ValidationError(f"view.{key} must be true or false", field=f"view.{key}")
    color = view.get("embedColor")
    if color and not re.fullmatch(r"#[0-9A-Fa-f]{6}", color):
        raise ValidationError("view.embedColor must look like #3b5bdb", field="view.embedColor")
    return dict(view)


def _avatar(value: str) -> str | None:
    """An avatar reference: at most 255 characters of text (its column's size), None when empty."""
    if len(value) > MAX_AVATAR_LENGTH:
        raise ValidationError(f"avatar must be at most {MAX_AVATAR_LENGTH} characters", field="avatar")
    return check_text(value, "avatar") or None


def can_grant(actor: User | None, role: Role) -> bool:
    """Whether ``actor`` may give ``role`` (None = the operator's CLI, who may give any)."""
    if actor is None:
        return True
    if role == Role.USER:
        return actor.is_administrator
    if role == Role.ADMIN:
        return actor.role == Role.SUPERADMIN.value
    return False


def _insert_user(rt: Runtime, username: str, password_hash: str | None, role: Role, via: str,
                 actor: User | None = None) -> User:
    """Insert a user (the password already hashed, outside the write lock); ``user.created`` on commit."""
    user = User(id=new_id(), username=username, username_key=username.lower(),
                password_hash=password_hash, role=role.value,
                view={}, session_version=1, url_count=0, file_count=0, used_bytes=0, disabled=False)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("Username is taken", code="username_taken", field="username") from None
    publish_after_commit(db.session, rt.events, UserCreated(
        user_id=user.id, username=user.username, role=user.role, via=via,
        actor_id=actor.id if actor is not None else None))
    return user


def create_user(rt: Runtime, username: object, password: object, role: Role = Role.USER,
                actor: User | None = None) -> User:
    """Create a user; ``actor`` (None for the CLI) must be allowed to grant ``role``.

    Raises:
        ValidationError, Conflict (username taken), Forbidden (role not grantable).
    """
    username = validate_username(username)
    password = validate_password(password)
    if not can_grant(actor, role):
        raise Forbidden("You cannot create this role", code="role_forbidden")
    password_hash = rt.passwords.hash(password)
    with write_transaction(db.session):
        return _insert_user(rt, username, password_hash, role, "admin" if actor is not None else "cli", actor)


def register(rt: Runtime, username: object, password: object, code: object, client: str) -> User:
    """Self-service sign-up as a USER: with invites enabled an invite is always needed (Zipline's
    GHSA-j2cw-9fvc-wr4r fix); otherwise open registration must be on. The invite is used in the same
    transaction that creates the user, so a failed sign-up spends nothing.

    Raises:
        Forbidden (registration closed), ValidationError (fields, invite), Conflict (username taken), RateLimited.
    """
    features = rt.settings.features
    rt.limiter.hit(rt.settings.ratelimit.register, "register", client)
    has_code = isinstance(code, str) and code != ""
    if has_code and not features.invites_enabled:
        raise Forbidden("Invites aren't enabled", code="invites_disabled")
    if not has_code and not features.user_registration:
        raise Forbidden("User registration is disabled", code="registration_disabled")
    if not has_code and features.invites_enabled:
        raise Forbidden("An invite code is required", code="invite_required")
    username = validate_username(username)
    password = validate_password(password)
    password_hash = rt.passwords.hash(password)
    with write_transaction(db.session):
        if has_code:
            invites.redeem(code)
        return _insert_user(rt, username, password_hash, Role.USER, "invite" if has_code else "registration")


def count_users() -> int:
    """How many users exist."""
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def setup_first_user(rt: Runtime, username: object, password: object) -> User:
    """Create the first user as SUPERADMIN; refused once any user exists (race-safe).

    Raises:
        Forbidden: a user already exists.
    """
    username = validate_username(username)
    password = validate_password(password)
    password_hash = rt.passwords.hash(password)
    with write_transaction(db.session):
        lock_key(db.session, "setup")
        if db.session.scalar(select(exists(select(User.id)))):
            raise Forbidden("Setup has already been completed", code="setup_done")
        return _insert_user(rt, username, password_hash, Role.SUPERADMIN, "setup")


def bootstrap_admin(rt: Runtime, username: str | None, password: str | None) -> tuple[User, str | None] | None:
    """On first start with no users, create a SUPERADMIN; return it and the generated password (if any)."""
    if count_users():
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(18)
    try:
        user = setup_first_user(rt, username or "admin", password)
    except Forbidden:
        return None
    return user, generated


def authenticate(rt: Runtime, username: object, password: object, client: str) -> User:
    """Check a username and password; the same error for unknown users and wrong passwords.

    Rate limited per client address. Rehashes the password when the argon2 parameters changed.

    Raises:
        ValidationError: a field is missing. Unauthorized: bad credentials. RateLimited.
    """
    if not isinstance(username, str) or not username:
        raise ValidationError("Username is required", field="username")
    if not isinstance(password, str) or not password:
        raise ValidationError("Password is required", field="password")
    limit = rt.settings.ratelimit.login
    rt.limiter.hit(limit, "login", client)
    key = username.strip().lower()
    user = db.session.scalar(select(User).where(User.username_key == key)) if USERNAME_RE.fullmatch(key) else None
    ok = rt.passwords.verify(user.password_hash if user else None, password[:MAX_PASSWORD_LENGTH])
    if not ok or user is None or user.disabled:
        reason = "unknown_user" if user is None else ("disabled" if user.disabled and ok else "wrong_password")
        rt.events.publish(LoginFailed(username=key[:64], reason=reason,
                                      actor_id=user.id if user is not None else None))
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    if rt.passwords.needs_rehash(user.password_hash or ""):
        with write_transaction(db.session):
            db.session.execute(update(User).where(User.id == user.id)
                               .values(password_hash=rt.passwords.hash(password)))
    return user


def needs_second_factor(rt: Runtime, user: User) -> bool:
    """Whether signing in as ``user`` needs a TOTP code after the password."""
    return bool(user.totp_secret) and rt.settings.features.totp_enabled


def get_user(user_id: str) -> User:
    """The user with ``user_id``, or NotFound."""
    user = db.session.get(User, user_id) if isinstance(user_id, str) and could_be_code(user_id) else None
    if user is None:
        raise NotFound("User not found", code="user_not_found")
    return user


def get_managed_user(actor: User, user_id: str) -> User:
    """The user ``user_id`` if ``actor`` may manage them; NotFound otherwise, as if they did not exist."""
    user = get_user(user_id)
    if not can_manage(actor, user):
        raise NotFound("User not found", code="user_not_found")
    return user


def find_user(username: str) -> User:
    """The user called ``username`` (case-insensitive), or NotFound."""
    key = username.lower()
    user = db.session.scalar(select(User).where(User.username_key == key)) if USERNAME_RE.fullmatch(key) else None
    if user is None:
        raise NotFound(f"No user named {username!r}", code="user_not_found")
    return user


def list_users(actor: User | None = None, exclude: User | None = None) -> list[User]:
    """Every user ``actor`` may manage (everyone for None, the CLI), oldest first, optionally without ``exclude``."""
    stmt = select(User).order_by(User.created_at, User.id)
    if actor is not None:
        stmt = stmt.where(managed_by(actor, User.id))
    if exclude is not None:
        stmt = stmt.where(User.id != exclude.id)
    return list(db.session.scalars(stmt))


def _apply_quota(user: User, quota: Quota | None, clear: bool) -> None:
    if clear:
        quota = Quota()
    if quota is None:
        return
    user.quota_files_type = quota.files_type
    user.quota_max_bytes = quota.max_bytes if quota.files_type == FilesQuota.BY_BYTES.value else None
    user.quota_max_bytes_text = quota.max_bytes_text if quota.files_type == FilesQuota.BY_BYTES.value else None
    user.quota_max_files = quota.max_files if quota.files_type == FilesQuota.BY_FILES.value else None
    user.quota_max_urls = quota.max_urls if quota.max_urls and quota.max_urls > 0 else None
    user.quota_updated_at = utcnow()


def update_user(rt: Runtime, target: User, changes: UserChanges, actor: User | None = None) -> User:
    """Apply ``changes`` to ``target`` as ``actor`` (None = CLI, self-service when actor is target).

    A password change or disable ends every session of the target.

    Raises:
        NotFound: the actor may not manage the target (:func:`can_manage`). Forbidden: the actor may not grant the
        role, or changes their own quota or disabled flag. Conflict: username taken.
    """
    self_service = actor is not None and actor.id == target.id
    if actor is not None and not can_manage(actor, target):
        raise NotFound("User not found", code="user_not_found")
    if changes.role is not None and actor is not None and (self_service or not can_grant(actor, changes.role)):
        raise Forbidden("You cannot assign this role", code="role_forbidden")
    if (changes.quota or changes.clear_quota or changes.disabled is not None) and self_service:
        raise Forbidden("You cannot change this for yourself", code="self_forbidden")
    username = validate_username(changes.username) if changes.username is not None else None
    password_hash = rt.passwords.hash(validate_password(changes.password)) if changes.password is not None else None
    avatar = _avatar(changes.avatar) if changes.avatar is not None else None
    with write_transaction(db.session):
        user = db.session.get(User, target.id, populate_existing=True)
        if user is None:
            raise NotFound("User not found", code="user_not_found")
        old_role, was_disabled = user.role, user.disabled
        if username is not None:
            user.username, user.username_key = username, username.lower()
        if password_hash is not None:
            user.password_hash = password_hash
            user.session_version += 1
            db.session.execute(sessions.all_sessions_of(user.id))
        if changes.role is not None:
            user.role = changes.role.value
        if changes.disabled is not None and changes.disabled != user.disabled:
            user.disabled = changes.disabled
            user.session_version += 1
            db.session.execute(sessions.all_sessions_of(user.id))
        if changes.view is not None:
            user.view = validate_view(changes.view)
        if changes.avatar is not None:
            user.avatar = avatar
        _apply_quota(user, changes.quota, changes.clear_quota)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("Username already exists", code="username_taken", field="username") from None
        publish_after_commit(db.session, rt.events, *_change_events(user, changes, (old_role, was_disabled), actor))
    rt.link_cache.clear()  # a disabled owner's links stop resolving at once
    rt.protected_files.clear()
    return user


def _change_events(user: User, changes: UserChanges, before: tuple[str, bool], actor: User | None) -> list[Event]:
    """What ``update_user`` tells subscribers: which fields changed (never their values), and apart the changes the
    audit log keeps: role, quota, password, disabled or enabled, account settings. ``before``: role, disabled."""
    actor_id = actor.id if actor is not None else None
    old_role, was_disabled = before
    names = {"username": changes.username, "password": changes.password, "disabled": changes.disabled,
             "view": changes.view, "avatar": changes.avatar}
    changed = tuple(name for name, value in names.items() if value is not None)
    who: dict[str, Any] = {"user_id": user.id, "username": user.username, "actor_id": actor_id}
    out: list[Event] = []
    if changed:
        out.append(UserUpdated(changed=changed, **who))
    if changes.role is not None and changes.role.value != old_role:
        out.append(RoleChanged(old=old_role, new=user.role, **who))
    if changes.quota is not None or changes.clear_quota:
        out.append(QuotaChanged(**who))
    if changes.password is not None:
        out.append(PasswordChanged(**who))
    if changes.disabled is not None and changes.disabled != was_disabled:
        out.append(UserDisabled(**who) if changes.disabled else UserEnabled(**who))
    settings = tuple(name for name in ("username", "view", "avatar") if names[name] is not None)
    if settings:
        out.append(SettingsChanged(settings=settings, **who))
    return out


def change_password(rt: Runtime, user: User, current: object, new: str, client: str) -> User:
    """A person changing their own password, proving the current one first (rate limited like a login);
    every session of the account ends (the caller starts a new one for this browser).

    Zipline's ``PATCH /api/user`` sets a password without the current one; there the ``account`` scope or
    the browser session is the proof, as in Zipline.

    Raises:
        ValidationError: the current password is wrong, or the new one is not acceptable. RateLimited.
    """
    try:
        authenticate(rt, user.username, current, client)
    except Unauthorized:
        raise ValidationError("The current password is wrong", field="current_password") from None
    return update_user(rt, user, UserChanges(password=new), actor=user)


def delete_user(rt: Runtime, target: User, actor: User | None = None) -> User:
    """Delete ``target`` and everything it owns: the rows (one transaction, the database cascades), then
    their blobs, thumbnails and chunked-upload bytes in storage.

    Raises:
        Forbidden: deleting yourself. NotFound: a user the actor may not manage.
    """
    if actor is not None and actor.id == target.id:
        raise Forbidden("You cannot delete yourself", code="delete_self")
    if actor is not None and not can_manage(actor, target):
        raise NotFound("User not found", code="user_not_found")
    with write_transaction(db.session):
        # Locked first: an upload of theirs charging its quota waits, then finds no user (and removes its blob).
        user = db.session.get(User, target.id, with_for_update=True, populate_existing=True)
        if user is None:
            raise NotFound("User not found", code="user_not_found")
        blobs = files.blob_keys(db.session.execute(select(File.storage_key, File.thumbnail_key)
                                                   .where(File.user_id == user.id)).all())
        chunked = list(db.session.scalars(select(PartialUpload.id).where(PartialUpload.user_id == user.id)))
        publish_after_commit(db.session, rt.events, UserDeleted(
            user_id=user.id, username=user.username, files=user.file_count or 0, links=user.url_count or 0,
            actor_id=actor.id if actor is not None else None))
        db.session.delete(user)  # the database cascades to every row they own
    rt.link_cache.clear()
    rt.protected_files.clear()
    # Their blobs, thumbnails and the bytes of their open chunked uploads go once the rows are gone; a
    # failure is logged (the storage clean-up removes what is left), never raised: the user is deleted.
    files.remove_blobs(rt.storage, blobs)
    for session_id in chunked:
        try:
            rt.storage.discard_parts(session_id)
        except Exception:  # noqa: BLE001
            log.warning("could not remove the chunks of upload %s; the storage clean-up will", session_id,
                        exc_info=True)
    return target
