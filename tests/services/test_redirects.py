"""The redirect door: resolve a code on a host, refuse what is not live, count exactly one view per visit
(never past a limit), and open protected links only with their password."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from tests.conftest import only_link
from zipshort.database import sqlite_write_lock
from zipshort.errors import Forbidden, Gone, NotFound, PasswordRequired, RateLimited
from zipshort.extensions import db
from zipshort.services import links, redirects


def test_a_visit_returns_the_destination_and_counts(rt, user, make_link):
    make_link(user, destination="https://example.com/a", vanity="Go-Here")
    followed = redirects.follow(rt, "go-here", "Any.Host")
    assert followed == redirects.Followed(destination="https://example.com/a", limited=False)
    assert only_link().views == 1


def test_a_head_request_resolves_without_counting(rt, user, make_link):
    make_link(user, vanity="peek", max_views=1)
    assert redirects.follow(rt, "peek", "h", count=False).limited
    assert only_link().views == 0


@pytest.mark.parametrize("code", ["nope", "", "../etc", "a" * 300])
def test_unknown_codes_are_not_found(rt, code):
    with pytest.raises(NotFound):
        redirects.follow(rt, code, "h")


def test_a_custom_domain_link_answers_on_its_host_only(rt, user, own_domain, make_link):
    own_domain(user, "go.mine.example")
    make_link(user, vanity="mine", domain="go.mine.example")
    with pytest.raises(NotFound):
        redirects.follow(rt, "mine", "other.example")
    assert redirects.follow(rt, "mine", "GO.MINE.EXAMPLE").destination == "https://example.com/"


def test_the_limit_holds_and_then_the_link_is_gone(rt, user, make_link):
    make_link(user, vanity="twice", max_views=2)
    for _ in range(2):
        assert redirects.follow(rt, "twice", "h").limited
    with pytest.raises(Gone) as gone:
        redirects.follow(rt, "twice", "h")
    assert gone.value.status == rt.settings.urls.gone_status and only_link().views == 2


@contextlib.contextmanager
def count_held(backend: str, link_id: str):
    """Hold the link's counting back while the block runs: SQLite's in-process write lock, or the row's lock on
    PostgreSQL (taken by another connection), so visits arriving meanwhile queue for one round."""
    if backend == "sqlite":
        with sqlite_write_lock:
            yield
        return
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT id FROM links WHERE id = :id FOR UPDATE"), {"id": link_id})
        yield


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.mark.parametrize("attempt", range(2))
def test_visits_arriving_while_a_count_runs_are_counted_together_within_the_limit(app, rt, user, make_link, backend,
                                                                                 attempt):
    link = make_link(user, destination="https://example.com/few", vanity="few", max_views=4)
    outcomes: list[str] = []

    def visit() -> None:
        with app.app_context():
            try:
                outcomes.append(redirects.follow(rt, "few", "h").destination)
            except Gone:
                outcomes.append("gone")

    rounds = rt.grants.rounds
    with count_held(backend, link.id):
        threads = [threading.Thread(target=visit)]
        threads[0].start()
        wait_until(lambda: rt.grants.rounds == rounds + 1)  # the first visit's count runs, and waits
        threads += [threading.Thread(target=visit) for _ in range(9)]
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: rt.grants.queued() == 9)
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["gone"] * 6 + ["https://example.com/few"] * 4
    assert rt.grants.rounds == rounds + 2  # nine visits, one transaction
    assert only_link().views == 4


def test_a_round_counts_each_link_it_holds_and_unlimited_ones_whole(app, rt, user, make_link, backend):
    capped = make_link(user, vanity="capped", max_views=2)
    make_link(user, vanity="free")
    outcomes: list[str] = []

    def visit(code: str) -> None:
        with app.app_context():
            try:
                redirects.follow(rt, code, "h")
                outcomes.append(code)
            except Gone:
                outcomes.append("gone")

    rounds = rt.grants.rounds
    with count_held(backend, capped.id):
        threads = [threading.Thread(target=visit, args=("capped",))]
        threads[0].start()
        wait_until(lambda: rt.grants.rounds == rounds + 1)
        threads += [threading.Thread(target=visit, args=(code,)) for code in ["capped"] * 3 + ["free"] * 5]
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: rt.grants.queued() == 8)
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["capped"] * 2 + ["free"] * 5 + ["gone"] * 2
    views = dict(db.session.execute(sa.text("SELECT vanity, views FROM links")).all())
    assert views == {"capped": 2, "free": 5}


def test_misses_arriving_while_a_read_runs_are_read_together(app, rt, user, own_domain, make_link, backend):
    """On PostgreSQL the cache misses of concurrent visits share one read per round, and each gets its own
    answer: a custom domain's link on its host only, nothing for unknown codes."""
    own_domain(user, "go.mine.example")
    make_link(user, destination="https://example.com/mine", vanity="mine", domain="go.mine.example")
    for n in range(4):
        make_link(user, destination=f"https://example.com/{n}", vanity=f"code-{n}")
    visits = [("mine", "go.mine.example"), ("mine", "other.example"), ("nope", "h")]
    visits += [(f"code-{n}", "h") for n in range(4)]
    outcomes: dict[tuple[str, str], str] = {}

    def visit(code: str, host: str) -> None:
        with app.app_context():
            try:
                outcomes[(code, host)] = redirects.follow(rt, code, host).destination
            except NotFound:
                outcomes[(code, host)] = "not found"

    rounds = rt.lookups.rounds
    if backend == "sqlite":  # reads in-process, one miss at a time: no rounds, the same answers
        for code, host in [("code-0", "h"), *visits]:
            visit(code, host)
        assert rt.lookups.rounds == rounds and outcomes == expected(visits)
        return
    with db.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("LOCK TABLE links IN ACCESS EXCLUSIVE MODE"))  # every read waits
        threads = [threading.Thread(target=visit, args=("code-0", "h"))]
        threads[0].start()
        wait_until(lambda: rt.lookups.rounds == rounds + 1)  # the first miss reads, and waits
        threads += [threading.Thread(target=visit, args=v) for v in visits]
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: rt.lookups.queued() == len(visits))
    for thread in threads:
        thread.join(10)
    assert rt.lookups.rounds == rounds + 2  # seven misses, one read
    assert outcomes == expected(visits)


def expected(visits: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Where each visit of the grouped-read test goes."""
    answers = {("mine", "go.mine.example"): "https://example.com/mine", ("mine", "other.example"): "not found",
               ("nope", "h"): "not found", **{(f"code-{n}", "h"): f"https://example.com/{n}" for n in range(4)}}
    return {visit: answers[visit] for visit in visits}


def test_disabled_and_expired_links_are_gone(rt, user, make_link, clock):
    link = make_link(user, vanity="off")
    links.update_link(rt, user, link.id, links.LinkChanges(enabled=False))
    with pytest.raises(Gone):
        redirects.follow(rt, "off", "h")
    make_link(user, vanity="soon", expires_at=clock.now() + dt.timedelta(minutes=1))
    redirects.follow(rt, "soon", "h", now=clock.now())
    clock.advance(60)
    with pytest.raises(Gone):
        redirects.follow(rt, "soon", "h", now=clock.now())


def test_a_protected_link_opens_only_with_its_password(rt, user, make_link):
    make_link(user, vanity="locked", password="secret-1")
    with pytest.raises(PasswordRequired):
        redirects.follow(rt, "locked", "h")
    with pytest.raises(Forbidden):
        redirects.unlock(rt, "locked", "h", "wrong", "203.0.113.5")
    assert only_link().views == 0
    opened = redirects.unlock(rt, "locked", "h", "secret-1", "203.0.113.5")
    assert opened.protected and opened.destination == "https://example.com/" and only_link().views == 1


def test_unlocking_a_link_without_password_is_not_found(rt, user, make_link):
    make_link(user, vanity="open")
    with pytest.raises(NotFound):
        redirects.unlock(rt, "open", "h", "anything", "203.0.113.5")


@pytest.mark.parametrize("overrides", [{"ratelimit": {"link_password": "2/minute"}}])
def test_password_guesses_are_rate_limited_per_link_and_client(rt, user, make_link):
    make_link(user, vanity="locked", password="secret-1")
    for _ in range(2):
        with pytest.raises(Forbidden):
            redirects.unlock(rt, "locked", "h", "wrong", "203.0.113.5")
    with pytest.raises(RateLimited):
        redirects.unlock(rt, "locked", "h", "secret-1", "203.0.113.5")
    assert redirects.unlock(rt, "locked", "h", "secret-1", "198.51.100.7").protected  # another client


def test_a_smart_link_is_decided_by_the_redirect_service(rt, user, make_link):
    from zipshort.events import Visitor

    make_link(user, vanity="smart", title="Card")
    assert redirects.follow(rt, "smart", "h").decision.kind == "redirect"
    bot = redirects.follow(rt, "smart", "h", facts=lambda: Visitor(user_agent="Slackbot-LinkExpanding 1.0"))
    assert (bot.decision.kind, bot.decision.title) == ("preview", "Card")


def test_find_protected_link_by_id_or_code(user, make_link):
    locked = make_link(user, vanity="Locked", password="secret-1")
    make_link(user, vanity="open")
    assert redirects.find_protected_link(locked.id).id == redirects.find_protected_link("LOCKED").id == locked.id
    with pytest.raises(NotFound):
        redirects.find_protected_link("open")
