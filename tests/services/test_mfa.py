"""TOTP: enabled with a proven code, each 30-second step accepted once, one step of drift either side."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest

from tests.conftest import fresh
from zipshort.errors import Forbidden, RateLimited, ValidationError
from zipshort.models import User
from zipshort.services import mfa


def code_at(secret: str, when) -> str:
    return pyotp.TOTP(secret).at(when)


@pytest.fixture
def enrolled(rt, user, clock):
    secret = mfa.new_secret()
    mfa.enable(rt, user, secret, code_at(secret, clock.now()), now=clock.now())
    return secret


def test_enable_stores_the_secret_once_a_code_proves_it(rt, user, enrolled):
    assert fresh(User, user.id).totp_secret == enrolled
    uri = mfa.provisioning_uri(rt, user, enrolled)
    assert uri.startswith("otpauth://totp/") and f"secret={enrolled}" in uri
    assert mfa.qr_svg_data_url(uri).startswith("data:image/svg+xml")


@pytest.mark.parametrize("secret,code", [("", "123456"), ("not base32!", "123456"), (None, "123456"),
                                         ("A" * 32, ""), ("A" * 32, "000000")])
def test_enable_refuses_a_missing_or_wrong_secret_or_code(rt, user, secret, code):
    with pytest.raises(ValidationError):
        mfa.enable(rt, user, secret, code)
    assert fresh(User, user.id).totp_secret is None


@pytest.mark.parametrize("overrides", [{"features": {"totp_enabled": False}}])
def test_enable_is_forbidden_when_the_server_has_totp_off(rt, user):
    secret = mfa.new_secret()
    with pytest.raises(Forbidden):
        mfa.enable(rt, user, secret, pyotp.TOTP(secret).now())


def test_a_login_code_is_accepted_once(user, enrolled, clock):
    clock.advance(30)
    mfa.verify_login(fresh(User, user.id), code_at(enrolled, clock.now()), now=clock.now())
    with pytest.raises(ValidationError, match="Invalid code"):  # the same code again: a replay
        mfa.verify_login(fresh(User, user.id), code_at(enrolled, clock.now()), now=clock.now())


def test_a_code_one_step_old_is_accepted_two_steps_old_is_not(user, enrolled, clock):
    clock.advance(90)
    previous = code_at(enrolled, clock.now() - dt.timedelta(seconds=30))
    mfa.verify_login(fresh(User, user.id), previous, now=clock.now())
    clock.advance(60)
    stale = code_at(enrolled, clock.now() - dt.timedelta(seconds=60))
    with pytest.raises(ValidationError):
        mfa.verify_login(fresh(User, user.id), stale, now=clock.now())


@pytest.mark.parametrize("overrides", [{"ratelimit": {"login": "2/minute"}}])
def test_wrong_login_codes_are_rate_limited_like_logins(rt, user, enrolled, clock):
    clock.advance(30)
    for _ in range(2):
        with pytest.raises(ValidationError):
            mfa.check_login_code(rt, fresh(User, user.id), "000000", now=clock.now())
    with pytest.raises(RateLimited):  # even the right code, until the window passes
        mfa.check_login_code(rt, fresh(User, user.id), code_at(enrolled, clock.now()), now=clock.now())


def test_disable_needs_a_fresh_code(rt, user, enrolled, clock):
    with pytest.raises(ValidationError):  # the enrolment's own code was spent
        mfa.disable(rt, fresh(User, user.id), code_at(enrolled, clock.now()), now=clock.now())
    clock.advance(30)
    mfa.disable(rt, fresh(User, user.id), code_at(enrolled, clock.now()), now=clock.now())
    assert fresh(User, user.id).totp_secret is None
    with pytest.raises(ValidationError, match="don't have TOTP"):
        mfa.disable(rt, fresh(User, user.id), "123456", now=clock.now())
