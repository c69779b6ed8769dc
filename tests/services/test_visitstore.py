"""The analytics writer's statements (services/visitstore.py) go to the driver below SQLAlchemy's types, so what they
store is compared with what the ORM stores for the same values, column for column, on SQLite and PostgreSQL; the
rollups add up and a visitor key is new only once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from zipshort.extensions import db
from zipshort.models import Visit, VisitDay, VisitHour, VisitUnique
from zipshort.services import visitstore

UTC = dt.timezone.utc
MOMENTS = [
    dt.datetime(2026, 3, 4, 22, 0, tzinfo=UTC),  # no microseconds (SQLite's text has them all the same)
    dt.datetime(2026, 3, 4, 22, 59, 58, 123456, tzinfo=UTC),
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2026, 3, 5, 4, 29, 58, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
]


def stored(table: str) -> dict[str, str]:
    """Each row of ``table`` as the database holds it (types included, id left out), by its first text column:
    ``target`` for the rollups, ``url`` for visits."""
    key = "url" if table == "visits" else "target"
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            columns = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})") if r[1] not in ("id", key)]
            shown = " || ',' || ".join(f"typeof({c}) || ':' || quote({c})" for c in columns)
            rows = conn.exec_driver_sql(f"SELECT {key}, {shown} FROM {table}")
        else:
            rows = conn.exec_driver_sql(f"SELECT {key}, (to_jsonb(t) - 'id' - '{key}')::text FROM {table} t")
        return {k: v for k, v in rows}


def _visit(at: dt.datetime, url: str, link_id: str, **changes) -> dict:
    values = dict(at=at, kind="link", link_id=link_id, file_id=None, orphan_type=None, url=url, host="s.example",
                  destination="https://example.com/ü?a=b", referrer="https://t.co/\tx\\y\nz", referrer_host="t.co",
                  user_agent="Mozilla/5.0 (ünïcode 🦊)", browser="Chrome", browser_version="120", os="Windows",
                  device="desktop", bot=False, language="de-ch", country="CH", region="Zürich", city=None,
                  latitude=47.3769, longitude=-8.541694, timezone="Europe/Zurich",
                  visitor_key="0123456789abcdef0123456789abcdef", address="192.0.2.0", counted_only=False)
    return values | changes


@pytest.mark.parametrize("at", MOMENTS, ids=str)
def test_visits_are_stored_as_the_orm_stores_them(make_link, user, at):
    link = make_link(user)
    cases = {"plain": {}, "bot": {"bot": True, "country": None, "address": None, "latitude": None, "longitude": None,
                                  "timezone": None},
             "edges": {"latitude": -90.0, "longitude": 180.0, "timezone": "America/Argentina/ComodRivadavia"},
             "count": {"counted_only": True, "destination": None, "referrer": "", "visitor_key": None, "language": ""}}
    for name, changes in cases.items():
        db.session.add(Visit(**_visit(at, f"orm-{name}", link.id, **changes)))
    db.session.commit()
    with db.engine.begin() as conn:
        store = visitstore.store_for(conn)
        rows = [_visit(store.time(at), f"raw-{name}", link.id, **changes) for name, changes in cases.items()]
        store.insert_visits(conn, [tuple(row[c] for c in visitstore.VISIT_COLUMNS) for row in rows])
    found = stored("visits")
    assert {name: found[f"raw-{name}"] for name in cases} == {name: found[f"orm-{name}"] for name in cases}
    db.session.rollback()
    assert {v.at for v in db.session.scalars(select(Visit))} == {at}  # and read back as the same instant
    assert {(v.latitude, v.longitude, v.timezone) for v in db.session.scalars(select(Visit))} == {
        (47.3769, -8.541694, "Europe/Zurich"), (None, None, None), (-90.0, 180.0, "America/Argentina/ComodRivadavia")}


def test_rollup_rows_are_stored_as_the_orm_stores_them_and_add_up(make_link, user):
    link = make_link(user)
    owner = {"kind": "link", "link_id": link.id, "file_id": None, "user_id": user.id}
    hour = dt.datetime(2026, 3, 4, 22, tzinfo=UTC)
    db.session.add_all([VisitHour(target="orm", hour=hour, bot=True, count=3, visitors=2, **owner),
                        VisitDay(target="orm", day=hour.date(), bot=False, dimension="country", value="ü", count=5,
                                 **owner),
                        VisitUnique(target="orm", day=hour.date(), visitor_key="k")])
    db.session.commit()
    with db.engine.begin() as conn:
        store = visitstore.store_for(conn)
        store.add_hours(conn, [("raw", store.time(hour), True, 3, 2, *owner.values())])
        store.add_days(conn, [("raw", store.day(hour.date()), False, "country", "ü", 5, *owner.values())])
        assert store.claim_keys(conn, [("raw", store.day(hour.date()), "k")]) == [("raw", store.day(hour.date()), "k")]
    for table in ("visit_hours", "visit_days", "visit_uniques"):
        found = stored(table)
        assert found["raw"] == found["orm"], table
    with db.engine.begin() as conn:
        store = visitstore.store_for(conn)
        store.add_hours(conn, [("raw", store.time(hour), True, 1, 0, *owner.values()),
                               ("raw", store.time(hour + dt.timedelta(hours=1)), True, 1, 1, *owner.values())])
        store.add_days(conn, [("raw", store.day(hour.date()), False, "country", "ü", 2, *owner.values())])
    db.session.rollback()
    hours = db.session.execute(select(VisitHour.hour, VisitHour.count, VisitHour.visitors)
                               .where(VisitHour.target == "raw").order_by(VisitHour.hour)).all()
    assert hours == [(hour, 4, 2), (hour + dt.timedelta(hours=1), 1, 1)]
    assert db.session.scalar(select(VisitDay.count).where(VisitDay.target == "raw")) == 7


def test_a_visitor_key_is_new_only_the_first_time(app):
    day = dt.date(2026, 3, 4)
    with db.engine.begin() as conn:
        store = visitstore.store_for(conn)
        d = store.day(day)
        many = [("t", d, f"{i:032x}") for i in range(1203)]  # more than one statement's worth on SQLite
        assert sorted(store.claim_keys(conn, many)) == many
        assert store.claim_keys(conn, many) == []
        again = [("t", d, "a"), ("t", d, f"{7:032x}"), ("u", d, "a"), ("t", store.day(day + dt.timedelta(days=1)), "a")]
        assert set(store.claim_keys(conn, again)) == {again[0], again[2], again[3]}
    db.session.rollback()
    assert db.session.scalar(select(VisitUnique.day).where(VisitUnique.target == "u")) == day
