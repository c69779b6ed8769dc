"""Password hashing (argon2id), API key minting and digests, constant-time comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

KEY_PREFIX = "zs_"
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 43  # ≈ 256 bits of base62


class Passwords:
    """argon2id hashing with the configured cost; a dummy verify keeps unknown users as slow as known ones."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                      parallelism=parallelism, type=Type.ID)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """A fresh argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; a None hash still costs one verification."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


def mint_key() -> str:
    """A new random API key (shown once, never stored)."""
    return KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def key_digest(key: str) -> str:
    """The stored form of a key: SHA-256 hex (keys carry 256 random bits, so no salt or stretching)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def derive_token(secret: str, user_id: str, nonce: str) -> str:
    """The user's Zipline token, recomputable from the server secret so only its digest is stored."""
    mac = hmac.new(secret.encode(), f"zipline-token:{user_id}:{nonce}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(mac, "big")
    chars: list[str] = []
    while len(chars) < KEY_LENGTH:
        number, rem = divmod(number, len(KEY_ALPHABET))
        chars.append(KEY_ALPHABET[rem])
    return KEY_PREFIX + "".join(chars)


def sign_grant(secret: str, subject: str, expires: int) -> str:
    """A short token saying "``subject`` is granted until ``expires`` (epoch seconds)", signed with the secret."""
    mac = hmac.new(secret.encode(), f"grant:{subject}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{expires}.{mac}"


def grant_valid(secret: str, subject: str, token: object, now: int) -> bool:
    """Whether ``token`` is an unexpired grant of ``subject`` made by :func:`sign_grant`."""
    if not isinstance(token, str):
        return False
    expires, _, mac = token.partition(".")
    if not expires.isdigit() or len(expires) > 12 or int(expires) < now:
        return False
    return hmac.compare_digest(sign_grant(secret, subject, int(expires)), token)


FORM_NONCE_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


def form_nonce() -> str:
    """A fresh random nonce for a browser's form cookie (:func:`form_token`): 22 URL-safe characters, 128 bits."""
    return secrets.token_urlsafe(16)


def form_token(secret: str, nonce: str) -> str:
    """The CSRF token of a form for the browser holding ``nonce`` in its cookie (a signed double submit: another
    site can neither read the cookie nor compute the token of a nonce it planted without the secret)."""
    return hmac.new(secret.encode(), f"form:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


def form_nonce_valid(nonce: object) -> bool:
    """Whether ``nonce`` has the shape :func:`form_nonce` makes (a cookie is the browser's to send)."""
    return isinstance(nonce, str) and 16 <= len(nonce) <= 64 and FORM_NONCE_CHARS.issuperset(nonce)


def form_token_valid(secret: str, nonce: object, token: object) -> bool:
    """Whether ``token`` is the form token of ``nonce`` (constant time)."""
    return form_nonce_valid(nonce) and isinstance(token, str) and hmac.compare_digest(
        form_token(secret, str(nonce)), token)


def random_string(length: int, alphabet: str) -> str:
    """``length`` characters drawn uniformly from ``alphabet`` with the system CSPRNG."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _sealing_key(secret: str, purpose: str) -> bytes:
    """A Fernet key for ``purpose``, derived from the server secret (HKDF-SHA256)."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"zipshort {purpose}".encode()).derive(
        secret.encode())
    return base64.urlsafe_b64encode(raw)


def seal(secret: str, purpose: str, plaintext: str) -> str:
    """``plaintext`` encrypted and authenticated (Fernet) with a key derived from the server ``secret``: for
    secrets the server must use again, not just check (a webhook's signing secret)."""
    from cryptography.fernet import Fernet

    return Fernet(_sealing_key(secret, purpose)).encrypt(plaintext.encode()).decode()


def unseal(secret: str, purpose: str, sealed: str) -> str | None:
    """What :func:`seal` sealed, or None when it cannot be read (the server secret changed, or it was altered)."""
    from cryptography.fernet import Fernet, InvalidToken

    try:
        return Fernet(_sealing_key(secret, purpose)).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
