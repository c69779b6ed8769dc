"""What a User-Agent string says: real strings from real browsers, bots and tools."""

from __future__ import annotations

import threading

import pytest

from zipshort.useragents import DEVICES, MAX_LENGTH, Agent, AgentParser

# (user agent, browser, major version, os, device, bot)
REAL = {
    "chrome on windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36", "Chrome", "120", "Windows", "desktop", False),
    "firefox on linux": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox", "121", "Linux", "desktop", False),
    "firefox on ubuntu": (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
        "Firefox", "115", "Ubuntu", "desktop", False),
    "safari on macos": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
        "Safari/605.1.15", "Safari", "17", "Mac OS X", "desktop", False),
    "edge": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 Edg/120.0.2210.91", "Edge", "120", "Windows", "desktop", False),
    "chrome on chromeos": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36", "Chrome", "120", "Chrome OS", "desktop", False),
    "safari on iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Mobile/15E148 Safari/604.1", "Mobile Safari", "17", "iOS", "mobile", False),
    "chrome on an android phone": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 "
        "Mobile Safari/537.36", "Chrome Mobile", "120", "Android", "mobile", False),
    "samsung internet": (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 "
        "Chrome/115.0.0.0 Mobile Safari/537.36", "Samsung Internet", "23", "Android", "mobile", False),
    "firefox on an android phone": (
        "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        "Firefox Mobile", "121", "Android", "mobile", False),
    "safari on an ipad": (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
        "Mobile/15E148 Safari/604.1", "Mobile Safari", "16", "iOS", "tablet", False),
    "chrome on an android tablet": (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 "
        "Safari/537.36", "Chrome", "120", "Android", "tablet", False),
    "firefox on an android tablet": (
        "Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
        "Firefox Mobile", "121", "Android", "tablet", False),
    "silk on a kindle fire": (
        "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.1 like "
        "Chrome/120.0.6099.194 Safari/537.36", "Amazon Silk", "120", "Android", "tablet", False),
    "edge on windows phone": (
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977",
        "Edge Mobile", "15", "Windows Phone", "mobile", False),
    "samsung smart tv": (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 "
        "Chrome/76.0.3809.146 TV Safari/537.36", "Samsung Internet", "4", "Tizen", "other", False),
    "xbox": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edge/44.18363.8131", "Edge", "44", "Windows", "other", False),
    "googlebot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", "2", "unknown", "bot", True),
    "googlebot smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", "2", "Android", "bot", True),
    "bingbot": (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "bingbot", "2", "unknown", "bot", True),
    "slackbot": (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Slackbot-LinkExpanding", "1", "unknown", "bot", True),
    "twitterbot": ("Twitterbot/1.0", "Twitterbot", "1", "unknown", "bot", True),
    "facebook": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "FacebookBot", "1", "unknown", "bot", True),
    "discordbot": (
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Discordbot", "2", "unknown", "bot", True),
    "headless chrome": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 "
        "Safari/537.36", "HeadlessChrome", "120", "Linux", "bot", True),
    "curl": ("curl/8.5.0", "curl", "8", "unknown", "bot", True),
    "wget": ("Wget/1.21.4", "Wget", "1", "unknown", "bot", True),
    "python-requests": ("python-requests/2.31.0", "Python Requests", "2", "unknown", "bot", True),
    "empty": ("", "unknown", "", "unknown", "other", False),
    "blank": ("   ", "unknown", "", "unknown", "other", False),
    "garbage": ("\x00\x01 \u2603 ;;; (((( foo", "unknown", "", "unknown", "other", False),
}


@pytest.fixture(scope="module")
def parse():
    return AgentParser()


@pytest.mark.parametrize("name", list(REAL))
def test_real_user_agents(parse, name):
    ua, browser, version, os, device, bot = REAL[name]
    assert parse(ua) == Agent(browser, version, os, device, bot)


def test_every_agent_has_exactly_one_device_class(parse):
    assert {parse(case[0]).device for case in REAL.values()} == set(DEVICES)


def test_a_huge_string_is_cut_before_parsing(parse):
    chrome = REAL["chrome on windows"][0]
    huge = chrome + " " + "A" * (5 * 1024)
    assert len(huge) > 5000
    assert parse(huge) == parse(chrome)
    assert parse("x" * 5000) == Agent("unknown", "", "unknown", "other", False)


def test_none_is_treated_as_empty(parse):
    assert parse(None) == parse("")  # type: ignore[arg-type]  # a missing header reaches here as None


def test_the_cache_stays_within_its_bound():
    parse = AgentParser(max_entries=8)
    for i in range(50):
        assert parse(f"curl/8.{i}.0").browser == "curl"
        assert parse.cache_size() <= 8
    assert parse.cache_size() == 8
    # the cache key is the truncated string: strings equal in their first MAX_LENGTH characters share one entry
    parse = AgentParser(max_entries=8)
    parse("a" * MAX_LENGTH + "b")
    parse("a" * MAX_LENGTH + "c")
    assert parse.cache_size() == 1


def test_a_parser_needs_room_for_one_entry():
    with pytest.raises(ValueError):
        AgentParser(max_entries=0)


def test_many_threads_get_the_same_answers():
    parse = AgentParser(max_entries=16)  # smaller than the set, so threads also evict each other's entries
    expected = {case[0]: Agent(*case[1:]) for case in REAL.values()}
    agents = list(expected)
    errors: list[str] = []
    start = threading.Barrier(16)

    def work(offset: int) -> None:
        start.wait()
        for round_ in range(20):
            for i in range(len(agents)):
                ua = agents[(i + offset + round_) % len(agents)]
                got = parse(ua)
                if got != expected[ua]:
                    errors.append(f"{ua!r}: {got} != {expected[ua]}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert parse.cache_size() <= 16
