"""Reading visit analytics (services/visitstats.py, services/visitlog.py): query parsing, buckets in a time zone
across DST changes, totals and top lists from the rollups, raw visits, CSV, forgetting and who may read what."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zipshort.errors import NotFound, ValidationError
from zipshort.events import FileViewed, LinkVisited, Visitor
from zipshort.extensions import db
from zipshort.models import Role, Visit, VisitDay, VisitHour
from zipshort.services import analytics, visitlog, visitstats

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def plant(rt, link, *times: dt.datetime, agent: str = CHROME, referrer: str = "", address: str = "8.8.8.8") -> None:
    """Visits of ``link`` at the given instants, stored through the real writer."""
    for at in times:
        rt.visits.offer(LinkVisited(link_id=link.id, code=link.slug, at=at, destination=link.destination,
                                    visitor=Visitor(address=address, user_agent=agent, referrer=referrer,
                                                    languages=("de-de",))))
    analytics.flush(rt, db.engine)
    db.session.rollback()


def query(**fields) -> visitstats.StatsQuery:
    return visitstats.parse_query(now=NOW, **fields)


# Parsing ------------------------------------------------------------------------------------------

def test_parse_query_without_values_is_the_last_30_days_by_day_in_utc_without_bots():
    q = query()
    assert (q.start, q.end, q.interval, q.bots, q.tz.key) == (NOW - dt.timedelta(days=30), NOW, "day", "exclude", "UTC")
    assert len(q.buckets) == 31 and q.buckets[0] == dt.datetime(2026, 5, 16, tzinfo=ZoneInfo("UTC"))


def test_parse_query_dates_are_whole_days_in_the_time_zone():
    q = query(start="2026-03-01", end="2026-03-31", tz="Europe/Berlin")
    assert q.start == dt.datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert q.end == dt.datetime(2026, 3, 31, 22, tzinfo=UTC)  # the end of the 31st, already summer time
    assert len(q.buckets) == 31


def test_parse_query_naive_datetimes_are_in_the_time_zone_and_offsets_are_kept():
    assert query(start="2026-01-10T08:00", end="2026-01-11T00:00Z", tz="Europe/Berlin").start == \
        dt.datetime(2026, 1, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(("fields", "field"), [
    ({"start": "yesterday"}, "from"), ({"end": "2026-13-01"}, "to"), ({"start": "0001-01-01"}, "from"),
    ({"end": "x" * 100}, "to"), ({"interval": "minute"}, "interval"), ({"bots": "maybe"}, "bots"),
    ({"tz": "Mars/Olympus"}, "tz"), ({"tz": "../../etc/passwd"}, "tz"), ({"tz": "UTC\x00"}, "tz"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, "from"), ({"start": "2026-01-01T00:00Z", "end": "2026-01-01T00:00Z"},
                                                             "from"),
    ({"start": "2020-01-01", "end": "2026-01-01", "interval": "day"}, "interval"),
    ({"start": "2026-01-01", "end": "2026-03-01", "interval": "hour"}, "interval"),
])
def test_parse_query_refuses_bad_values_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as caught:
        query(**fields)
    assert caught.value.field == field and caught.value.status == 400


def test_buckets_of_a_day_across_the_spring_change_start_at_local_midnight():
    q = query(start="2026-03-28", end="2026-03-30", tz="Europe/Berlin")
    assert [b.isoformat() for b in q.buckets] == ["2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00",
                                                  "2026-03-30T00:00:00+02:00"]


def test_hour_buckets_of_the_autumn_change_are_25_real_hours():
    q = query(start="2026-10-25", end="2026-10-25", interval="hour", tz="Europe/Berlin")
    labels = [b.isoformat() for b in q.buckets]
    assert len(labels) == 25 and labels.count("2026-10-25T02:00:00+02:00") == 1
    assert "2026-10-25T02:00:00+01:00" in labels


def test_week_buckets_start_on_monday_and_month_buckets_on_the_first():
    weeks = query(start="2026-03-04", end="2026-03-20", interval="week", tz="America/New_York").buckets
    assert [b.date().isoformat() for b in weeks] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert {b.weekday() for b in weeks} == {0} and weeks[1].utcoffset() == dt.timedelta(hours=-4)
    months = query(start="2025-11-15", end="2026-02-01", interval="month").buckets
    assert [b.date().isoformat() for b in months] == ["2025-11-01", "2025-12-01", "2026-01-01", "2026-02-01"]


def test_top_lists_keep_ten_then_other_ties_by_value():
    counts = {f"v{i:02d}": 5 for i in range(12)} | {"big": 9}
    ranked = visitstats.top(counts)
    assert ranked[0] == {"value": "big", "count": 9}
    assert [r["value"] for r in ranked[1:10]] == [f"v{i:02d}" for i in range(9)]
    assert ranked[10] == {"value": "other", "count": 15} and len(ranked) == 11
    assert visitstats.top({"a": 1}) == [{"value": "a", "count": 1}]


# Answers ------------------------------------------------------------------------------------------

def test_visits_across_the_dst_change_fall_into_local_days(rt, make_link, user):
    link = make_link(user)
    plant(rt, link, dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 00:30 on the 29th in Berlin (+01:00)
          dt.datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # 00:30 on the 30th in Berlin (+02:00)
          dt.datetime(2026, 3, 29, 21, 30, tzinfo=UTC))  # 23:30 on the 29th in Berlin
    berlin = visitstats.link_stats(user, link.id, query(start="2026-03-28", end="2026-03-30", tz="Europe/Berlin"))
    assert [(s["start"], s["count"]) for s in berlin["series"]] == [
        ("2026-03-28T00:00:00+01:00", 0), ("2026-03-29T00:00:00+01:00", 2), ("2026-03-30T00:00:00+02:00", 1)]
    utc = visitstats.link_stats(user, link.id, query(start="2026-03-28", end="2026-03-30"))
    assert [s["count"] for s in utc["series"]] == [1, 2, 0]
    assert berlin["total"] == utc["total"] == 3


def test_bots_are_excluded_included_or_alone_and_always_counted(rt, make_link, user):
    link = make_link(user)
    at = NOW - dt.timedelta(days=1)
    plant(rt, link, at, at)
    plant(rt, link, at, agent=GOOGLEBOT)
    answers = {bots: visitstats.link_stats(user, link.id, query(bots=bots)) for bots in visitstats.BOTS}
    assert {b: (a["total"], a["bots"]) for b, a in answers.items()} == {
        "exclude": (2, 1), "include": (3, 1), "only": (1, 1)}
    assert answers["only"]["devices"] == [{"value": "bot", "count": 1}]
    assert answers["exclude"]["devices"] == [{"value": "desktop", "count": 2}]


def test_unique_visitors_count_once_a_day(rt, make_link, user):
    link = make_link(user)
    day = dt.datetime(2026, 6, 10, 9, tzinfo=UTC)
    plant(rt, link, day, day + dt.timedelta(hours=3), day + dt.timedelta(days=1))
    plant(rt, link, day, address="9.9.9.9")
    answer = visitstats.link_stats(user, link.id, query(start="2026-06-10", end="2026-06-11"))
    assert [(s["count"], s["unique"]) for s in answer["series"]] == [(3, 2), (1, 1)]
    assert (answer["total"], answer["unique"]) == (4, 3)


def test_user_stats_add_up_links_and_files_and_leave_others_out(rt, make_link, make_file, make_user, user):
    mine, theirs = make_link(user), make_link(make_user("bob"))
    at = NOW - dt.timedelta(hours=5)
    plant(rt, mine, at)
    plant(rt, theirs, at, at)
    image = make_file(user)
    rt.visits.offer(FileViewed(file_id=image.id, filename=image.name, at=at, visitor=Visitor(user_agent=CHROME)))
    analytics.flush(rt, db.engine)
    answer = visitstats.user_stats(user, query())
    assert answer["total"] == 2 and answer["destinations"] == [{"value": "https://example.com/", "count": 1}]
    assert visitstats.file_stats(user, image.name, query())["total"] == 1


def test_another_users_link_is_not_found_but_their_admin_sees_it(rt, make_link, make_user, user):
    link = make_link(user)
    bob, boss = make_user("bob"), make_user("boss", role=Role.ADMIN)
    with pytest.raises(NotFound):
        visitstats.link_stats(bob, link.id, query())
    with pytest.raises(NotFound):
        visitstats.link_stats(user, "no-such-id", query())
    assert visitstats.link_stats(boss, link.id, query())["total"] == 0
    with pytest.raises(NotFound):
        visitstats.link_stats(make_user("peer", role=Role.ADMIN), visitstats.link_for(boss, link.id).id + "x",
                              query())


def test_top_lists_ranked_by_the_database_match_top_with_ties_in_code_point_order(make_link, user):
    link = make_link(user)
    counts = {f"h{i}": 20 - i for i in range(8)} | {"B": 5, "_b": 5, "a": 5, "z": 1}  # the cut falls in the 5s
    day = (NOW - dt.timedelta(days=2)).date()
    for value, n in counts.items():  # on two days, so the database adds them up
        db.session.add_all(VisitDay(target=link.id, kind="link", link_id=link.id, user_id=user.id, day=d, bot=False,
                                    dimension="referrer", value=value, count=n)
                           for d in (day, day + dt.timedelta(days=1)))
    db.session.commit()
    referrers = visitstats.link_stats(user, link.id, query())["referrers"]
    assert referrers == visitstats.top({v: 2 * n for v, n in counts.items()})
    assert [r["value"] for r in referrers[8:]] == ["B", "_b", "other"] and referrers[-1]["count"] == 12


def test_a_range_starting_inside_a_bucket_leaves_out_the_earlier_hours_of_that_bucket(rt, make_link, user):
    link = make_link(user)
    plant(rt, link, dt.datetime(2026, 6, 10, 5, tzinfo=UTC), dt.datetime(2026, 6, 10, 9, 30, tzinfo=UTC))
    answer = visitstats.link_stats(user, link.id, query(start="2026-06-10T08:00:00Z", end="2026-06-10"))
    assert [(s["start"], s["count"]) for s in answer["series"]] == [("2026-06-10T00:00:00+00:00", 1)]


def test_an_hour_that_begins_before_the_first_bucket_is_in_no_bucket(rt, make_link, user):
    link = make_link(user)  # Kolkata is UTC+05:30: its 10 June begins at 18:30 UTC, inside the hour from 18:00
    plant(rt, link, dt.datetime(2026, 6, 9, 18, 10, tzinfo=UTC), dt.datetime(2026, 6, 9, 19, 0, tzinfo=UTC))
    plant(rt, link, dt.datetime(2026, 6, 9, 18, 20, tzinfo=UTC), agent=GOOGLEBOT)
    answer = visitstats.link_stats(user, link.id, query(start="2026-06-10", end="2026-06-10", tz="Asia/Kolkata",
                                                        bots="include"))
    assert [(s["start"], s["count"]) for s in answer["series"]] == [("2026-06-10T00:00:00+05:30", 1)]
    assert (answer["total"], answer["bots"]) == (1, 1)  # the bot count covers every hour read


def test_server_stats_count_everything_with_the_orphans_apart(rt, client, make_link, user):
    make_link(user, vanity="srv")
    client.get("/go/srv", headers={"User-Agent": CHROME})
    client.get("/go/nothing-here", headers={"User-Agent": CHROME})
    client.get("/wp-login.php", headers={"User-Agent": CHROME})
    client.get("/wp-login.php", headers={"User-Agent": CHROME})
    analytics.flush(rt, db.engine)
    answer = visitstats.server_stats(visitstats.parse_query())
    assert answer["total"] == 4
    assert answer["orphans"] == {"total": 3, "types": [{"value": "regular_404", "count": 2},
                                                       {"value": "invalid_short_url", "count": 1}],
                                 "urls": [{"value": "/wp-login.php", "count": 2},
                                          {"value": "/go/nothing-here", "count": 1}]}


# Raw visits ---------------------------------------------------------------------------------------

def test_raw_visits_page_newest_first_within_the_range(rt, make_link, user):
    link = make_link(user)
    times = [dt.datetime(2026, 6, d, 12, tzinfo=UTC) for d in range(1, 8)]
    plant(rt, link, *times)
    which = visitlog.target_filter(user, "link", link.id, visitlog.parse_filter(start="2026-06-02", end="2026-06-06"))
    rows, total = visitlog.page_visits(which, 2, 2)
    assert total == 5 and [r["date"] for r in rows] == [times[3].isoformat(), times[2].isoformat()]
    assert rows[0]["browser"] == "Chrome" and rows[0]["potentialBot"] is False and rows[0]["language"] == "de-de"


@pytest.mark.parametrize(("page", "per_page", "field"), [
    ("0", None, "page"), ("x", None, "page"), (None, "0", "perpage"), (None, "101", "perpage"),
    ("9" * 18, "100", "page")])
def test_raw_visit_pages_are_bounded(page, per_page, field):
    with pytest.raises(ValidationError) as caught:
        visitlog.parse_page(page, per_page)
    assert caught.value.field == field


def test_csv_export_reads_in_chunks_without_losing_rows_of_the_same_instant(rt, make_link, user):
    link = make_link(user)
    same = dt.datetime(2026, 6, 1, 12, tzinfo=UTC)
    plant(rt, link, same, same, same, same + dt.timedelta(seconds=1), same - dt.timedelta(seconds=1))
    which = visitlog.target_filter(user, "link", link.id, visitlog.VisitFilter())
    lines = "".join(visitlog.csv_lines(which, chunk=2)).splitlines()
    assert lines[0] == ",".join(visitlog.COLUMNS) and len(lines) == 6
    assert lines[1].startswith("2026-06-01T12:00:01") and lines[-1].startswith("2026-06-01T11:59:59")


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text(rt, make_link, user):
    link = make_link(user)
    plant(rt, link, NOW, referrer="=HYPERLINK(\"http://evil.example\")")
    which = visitlog.target_filter(user, "link", link.id, visitlog.VisitFilter())
    assert "'=HYPERLINK" in "".join(visitlog.csv_lines(which))


def test_forget_visits_removes_raw_visits_and_rollups_of_that_link_only(rt, make_link, make_user, user):
    link, other = make_link(user), make_link(user)
    plant(rt, link, NOW, NOW)
    plant(rt, other, NOW)
    with pytest.raises(NotFound):
        visitlog.forget_visits(make_user("bob"), "link", link.id)
    assert visitlog.forget_visits(user, "link", link.id) == 2
    db.session.rollback()
    for model in (Visit, VisitHour, VisitDay):
        targets = {r.link_id for r in db.session.query(model)}
        assert targets == {other.id}
    assert visitstats.link_stats(user, link.id, query(start="2026-06-01"))["total"] == 0
