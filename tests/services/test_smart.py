"""Smart visits decided directly: rules by priority, UTM, previews for bots, deep links, cloaking."""

from __future__ import annotations

import pytest

from zipshort.services import linkfields, smart

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


def rule(priority, value, **criteria):
    return {"priority": priority, "destination": {"type": "link", "value": value}, **criteria}


@pytest.fixture
def ruled(make_user, make_link):
    rules = [rule(2, "https://fr.example/", languages=["fr"]), rule(1, "https://ios-us.example/", osTypes=["ios"],
                                                                    countries=["US"]),
             rule(3, "https://ios.example/", osTypes=["ios"])]
    return make_link(make_user("owner"), destination="https://main.example/",
                     rules=linkfields.validate_rules(rules, 2048), utm={"source": "news"})


@pytest.mark.parametrize("visitor,expected", [
    (smart.Visitor(), "https://main.example/?utm_source=news"),
    (smart.Visitor(IPHONE, ("fr-ca",), "US"), "https://ios-us.example/?utm_source=news"),  # priority 1 first
    (smart.Visitor(IPHONE, ("fr-ca",), "DE"), "https://fr.example/?utm_source=news"),
    (smart.Visitor(IPHONE, ("en",), None), "https://ios.example/?utm_source=news"),
    (smart.Visitor(ANDROID, ("en",), None), "https://main.example/?utm_source=news"),
    (smart.Visitor(ANDROID, ("en", "fr"), None), "https://fr.example/?utm_source=news"),  # any preferred language
])
def test_the_first_matching_rule_by_priority_decides(ruled, visitor, expected):
    assert smart.decide(smart.load(ruled.id), visitor) == smart.Decision("redirect", expected)


def test_a_rule_without_criteria_never_matches():
    assert not smart.rule_matches(rule(0, "https://x.example/"), smart.Visitor(IPHONE, ("en",), "US"))


def test_bots_get_the_preview_people_the_destination(user, make_link, make_file):
    image = make_file(user, b"png", name="card.png", type="image/png")
    link = make_link(user, destination="https://main.example/", title="Card", description="Text",
                     image_id=image.id)
    preview = smart.decide(smart.load(link.id), smart.Visitor(SLACK))
    assert preview == smart.Decision("preview", "https://main.example/", "Card", "Text", "/raw/card.png")
    assert smart.decide(smart.load(link.id), smart.Visitor(IPHONE)).kind == "redirect"


def test_a_preview_image_that_is_gone_is_left_out(app):
    assert smart.preview_image("file:no-such-file") is None
    assert smart.preview_image("https://cdn.example/a.png") == "https://cdn.example/a.png"


def test_deep_links_open_the_app_on_android_only(user, make_link):
    link = make_link(user, destination="https://www.youtube.com/watch?v=x", deep_linking=True)
    android = smart.decide(smart.load(link.id), smart.Visitor(ANDROID))
    assert android.location.startswith("intent://www.youtube.com/watch?v=x#Intent;scheme=https;"
                                       "package=com.google.android.youtube;")
    assert smart.decide(smart.load(link.id), smart.Visitor(IPHONE)).location == "https://www.youtube.com/watch?v=x"


def test_an_unknown_site_opens_in_the_browser_from_the_intent():
    intent = smart.android_app_link("https://shop.example/a?b=1")
    assert intent == ("intent://shop.example/a?b=1#Intent;scheme=https;"
                      "S.browser_fallback_url=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1;end")


def test_cloaked_links_are_framed_other_targets_are_not(user, make_link):
    framed = make_link(user, destination="https://main.example/", cloaking=True, title="T")
    assert smart.decide(smart.load(framed.id), smart.Visitor()) == smart.Decision("frame", "https://main.example/", "T")
    mail = make_link(user, destination="a@b.co", destination_type="email", cloaking=True)
    assert smart.decide(smart.load(mail.id), smart.Visitor()) == smart.Decision("redirect", "mailto:a@b.co")


def test_load_reads_the_row_or_refuses(user, make_link):
    link = make_link(user)
    assert smart.load(link.id).destination == "https://example.com/"
    with pytest.raises(LookupError):
        smart.load("no-such-link")
