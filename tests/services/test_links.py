"""Link service: creation rules, the shared namespace, quotas, editing, and the counted redirect."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import count, fresh, only_link
from zipshort.errors import Forbidden, Gone, NotFound, PasswordRequired, QuotaExceeded, ValidationError, VanityTaken
from zipshort.models import Link, User
from zipshort.services import accounts, links, redirects


def test_create_link_without_vanity_gets_random_code_of_configured_length(rt, user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/a"))
    assert len(link.code) == rt.settings.urls.length
    assert link.slug == link.code and link.vanity is None and link.views == 0


def test_create_link_with_vanity_keeps_case_and_claims_lowercase_key(rt, user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="Summer-Sale"))
    assert (link.slug, link.slug_key, link.vanity) == ("Summer-Sale", "summer-sale", "Summer-Sale")


def test_create_link_vanity_differing_only_in_case_is_taken(rt, user, make_user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="promo"))
    with pytest.raises(VanityTaken):
        links.create_link(rt, make_user("bob"), links.NewLink(destination="https://example.com/", vanity="PROMO"))


def test_create_link_vanity_equal_to_another_links_code_is_taken(rt, user):
    first = links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    with pytest.raises(VanityTaken):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity=first.code))


def test_create_link_domain_bound_code_conflicts_with_domainless_code(rt, user, own_domain):
    own_domain(user, "a.example")
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="shared"))
    with pytest.raises(VanityTaken):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="shared",
                                                  domain="a.example"))


def test_create_link_same_code_on_two_domains_is_allowed(rt, user, own_domain):
    own_domain(user, "a.example", "b.example")
    a = links.create_link(rt, user, links.NewLink(destination="https://a.example/", vanity="x1", domain="a.example"))
    b = links.create_link(rt, user, links.NewLink(destination="https://b.example/", vanity="x1", domain="b.example"))
    assert redirects.follow(rt, "x1", "a.example").destination == a.destination
    assert redirects.follow(rt, "x1", "b.example").destination == b.destination
    with pytest.raises(NotFound):
        redirects.follow(rt, "x1", "c.example")


def test_create_link_domainless_code_conflicts_with_any_domain_bound_code(rt, user, own_domain):
    own_domain(user, "a.example")
    links.create_link(rt, user, links.NewLink(destination="https://a.example/", vanity="bound", domain="a.example"))
    with pytest.raises(VanityTaken):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="bound"))


def test_create_link_on_a_domain_not_the_owners_or_unverified_is_refused(rt, user, make_user, own_domain):
    from zipshort.services import domains

    own_domain(make_user("bob"), "bobs.example")
    domains.add_custom(rt, user, "pending.example")
    for name in ("bobs.example", "pending.example", "nowhere.example"):
        with pytest.raises(ValidationError) as info:
            links.create_link(rt, user, links.NewLink(destination="https://example.com/", domain=name))
        assert info.value.code == "invalid_domain"
    assert fresh(User, user.id).url_count == 0


@pytest.mark.parametrize("vanity", ["api", "LOGIN", "static", "a/b", "../x", ".", "..", "x..y", ".hidden",
                                    "ＡＢＣ", "аbc", "a b", "x" * 101, "trail."])
def test_create_link_bad_or_reserved_vanity_is_refused(rt, user, vanity):
    with pytest.raises(ValidationError) as info:
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity=vanity))
    assert info.value.code == "invalid_vanity"
    assert fresh(User, user.id).url_count == 0


@pytest.mark.parametrize("destination", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:x", "java\tscript:x", "data:text/html,hi",
    "vbscript:x", "file:///etc/passwd", "//evil.example", "http://", "https://a b", "https://x\r\nSet-Cookie:a",
    "mailto:a@example.com", "ftp://example.com/", "https://" + "a" * 2100, "", "http://exa mple.com",
    "https://[::1", "https://example.com:99999/",
])
def test_create_link_bad_destination_is_refused_and_nothing_written(rt, user, destination):
    with pytest.raises(ValidationError):
        links.create_link(rt, user, links.NewLink(destination=destination))
    assert count(Link) == 0


@pytest.mark.parametrize("value", [-1, 1.5, "5", True, False, 10**10, float("nan")])
def test_create_link_bad_max_views_is_refused(rt, user, value):
    with pytest.raises(ValidationError):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", max_views=value))


def test_create_link_max_views_zero_means_unlimited(rt, user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", max_views=0))
    assert link.max_views is None


def test_create_link_past_expiry_is_refused(rt, user):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with pytest.raises(ValidationError):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", expires_at=past))


def test_create_link_beyond_url_quota_is_refused_and_counter_unchanged(rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=2)))
    for _ in range(2):
        links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    with pytest.raises(QuotaExceeded) as info:
        links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    assert info.value.message == "Shortening this URL would exceed your quota of 2 URLs."
    assert fresh(User, user.id).url_count == 2


def test_delete_link_gives_quota_back(rt, user):
    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.Quota(max_urls=1)))
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    links.delete_link(rt, user, link.id)
    links.create_link(rt, user, links.NewLink(destination="https://example.com/"))


def test_delete_link_of_other_user_is_not_found(rt, user, make_user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    with pytest.raises(NotFound):
        links.delete_link(rt, make_user("mallory"), link.id)
    assert count(Link) == 1


def test_get_owned_link_of_other_user_is_forbidden(rt, user, make_user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/"))
    with pytest.raises(Forbidden):
        links.get_owned_link(make_user("mallory"), link.id)


def test_follow_counts_views_up_to_max_then_gone(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="twice", max_views=2))
    for _ in range(2):
        assert redirects.follow(rt, "twice", "h").limited
    with pytest.raises(Gone):
        redirects.follow(rt, "twice", "h")
    assert only_link().views == 2


def test_follow_is_case_insensitive(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/c", vanity="CaseY"))
    assert redirects.follow(rt, "casey", "h").destination == "https://example.com/c"


def test_follow_without_count_does_not_count(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="peek", max_views=1))
    redirects.follow(rt, "peek", "h", count=False)
    redirects.follow(rt, "peek", "h", count=False)
    assert only_link().views == 0


def test_follow_disabled_link_is_gone(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="off", enabled=False))
    with pytest.raises(Gone):
        redirects.follow(rt, "off", "h")


def test_follow_expired_link_is_gone_at_the_boundary(rt, user):
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="soon", expires_at=expires))
    assert redirects.follow(rt, "soon", "h", now=expires - dt.timedelta(microseconds=1000)).destination
    with pytest.raises(Gone):
        redirects.follow(rt, "soon", "h", now=expires)


def test_follow_link_of_disabled_user_is_gone(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="owner-off"))
    accounts.update_user(rt, user, accounts.UserChanges(disabled=True))
    with pytest.raises(Gone):
        redirects.follow(rt, "owner-off", "h")


def test_follow_protected_link_requires_password_and_does_not_count(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="secret", password="pw123"))
    with pytest.raises(PasswordRequired):
        redirects.follow(rt, "secret", "h")
    assert only_link().views == 0


def test_unlock_with_right_password_counts_and_returns_destination(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/p", vanity="sec", password="pw123"))
    assert redirects.unlock(rt, "sec", "h", "pw123", "1.2.3.4").destination == "https://example.com/p"
    assert only_link().views == 1


def test_unlock_with_wrong_password_is_forbidden_and_not_counted(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="sec2", password="pw123"))
    with pytest.raises(Forbidden):
        redirects.unlock(rt, "sec2", "h", "nope", "1.2.3.4")
    assert only_link().views == 0


def test_update_link_vanity_to_taken_code_is_refused(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="one"))
    two = links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="two"))
    with pytest.raises(VanityTaken):
        links.update_link(rt, user, two.id, links.LinkChanges(vanity="ONE"))


def test_update_link_clearing_vanity_falls_back_to_a_free_code(rt, user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="named"))
    updated = links.update_link(rt, user, link.id, links.LinkChanges(vanity=None))
    assert updated.vanity is None and updated.slug == updated.code
    assert redirects.follow(rt, updated.code, "h").destination == "https://example.com/"


def test_update_link_keeps_password_when_not_mentioned(rt, user):
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity="keep", password="pw1"))
    links.update_link(rt, user, link.id, links.LinkChanges(destination="https://example.org/"))
    with pytest.raises(PasswordRequired):
        redirects.follow(rt, "keep", "h")


def test_list_links_search_escapes_like_wildcards(rt, user):
    links.create_link(rt, user, links.NewLink(destination="https://example.com/100%25"))
    links.create_link(rt, user, links.NewLink(destination="https://example.com/abc"))
    assert len(links.list_links(user, "destination", "%")) == 1
    assert len(links.list_links(user, "destination", "ABC")) == 1


def test_list_links_unknown_search_field_is_refused(user):
    with pytest.raises(ValidationError):
        links.list_links(user, "password", "x")


class TestTinyCodeSpace:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"length": 3, "alphabet": "0123456789"}}

    def test_random_code_collisions_are_retried(self, rt, user):
        # 1,000 possible codes: 200 links collide many times on the way (birthday bound ≈ 40).
        codes = {links.create_link(rt, user, links.NewLink(destination="https://e.com/")).code for _ in range(200)}
        assert len(codes) == 200 and all(len(c) == 3 and c.isdigit() for c in codes)


class TestConfiguredRoutesAreReserved:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"route": "/l"}, "files": {"route": "/i"}}

    @pytest.mark.parametrize("vanity", ["l", "I"])
    def test_vanity_equal_to_a_configured_route_is_refused(self, rt, user, vanity):
        with pytest.raises(ValidationError):
            links.create_link(rt, user, links.NewLink(destination="https://example.com/", vanity=vanity))


@pytest.mark.parametrize("description", ["a\x00b", "bell\x07", "x" * 2001, 12])
def test_service_refuses_a_bad_description_whoever_calls_it(rt, user, make_link, description):
    from zipshort.errors import ValidationError
    from zipshort.services import links

    with pytest.raises(ValidationError) as refused:
        make_link(user, description=description)
    assert refused.value.field == "description"
    link = make_link(user, description="two\nlines\tand a tab")
    assert link.description == "two\nlines\tand a tab"
    with pytest.raises(ValidationError):
        links.update_link(rt, user, link.id, links.LinkChanges(description=description))


def test_shlink_fields_are_stored_at_creation_and_edited(rt, user):
    since = dt.datetime(2020, 5, 1, 12, 0, tzinfo=dt.UTC)
    link = links.create_link(rt, user, links.NewLink(destination="https://example.com/", valid_since=since,
                                                     forward_query=True, crawlable=True))
    row = fresh(Link, link.id)
    assert (row.valid_since, row.forward_query, row.crawlable, row.api_key_id) == (since, True, True, None)
    links.update_link(rt, user, link.id, links.LinkChanges(valid_since=None, forward_query=False))
    row = fresh(Link, link.id)
    assert (row.valid_since, row.forward_query, row.crawlable) == (None, False, True)
    plain = links.create_link(rt, user, links.NewLink(destination="https://example.com/b"))
    assert (plain.valid_since, plain.forward_query, plain.crawlable) == (None, False, False)


@pytest.mark.parametrize("value", ["2020-01-01", dt.datetime(1, 1, 1)])
def test_bad_valid_since_is_refused_and_nothing_written(rt, user, value):
    with pytest.raises(ValidationError) as caught:
        links.create_link(rt, user, links.NewLink(destination="https://example.com/", valid_since=value))
    assert caught.value.field == "validSince"
    assert count(Link) == 0
