"""The migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import base_overrides, new_postgres_database
from zipshort import create_app
from zipshort.config import load_settings
from zipshort.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


PREVIOUS = "5b9186b4df41"  # the revision before links.folder_id became a foreign key


@pytest.fixture
def empty_app(backend, tmp_path, request):
    """An app on an empty database of this backend (no migration applied)."""
    if backend == "sqlite":
        url = ""
        cm = contextlib.nullcontext()
    else:
        cm = new_postgres_database("zipshort_migration")
    with cm as made:
        if made is not None:
            url = made[1]
        app = create_app(load_settings(base_overrides(tmp_path, url), environ={}, instance_path=tmp_path))
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def _insert(conn, table: str, **values) -> None:
    """One row written with plain SQL: the models describe the newest schema, not the one being migrated."""
    names = ", ".join(values)
    conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_the_folder_key_of_links_keeps_every_link_and_tag_and_clears_dangling_ids(empty_app):
    from zipshort.models import Folder, Link

    directory = empty_app.extensions["migrate"].directory
    upgrade(directory=directory, revision=PREVIOUS)
    then = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    stamps = {"created_at": then, "updated_at": then}
    with db.engine.begin() as conn:  # before the key: a deleted folder's id stays on its links
        _insert(conn, "users", id="u1", username="alice", username_key="alice", password_hash="x", role="USER",
                disabled=False, session_version=0, view="{}", url_count=2, file_count=0, used_bytes=0, **stamps)
        for folder_id, name in (("f-kept", "kept"), ("f-gone", "gone")):
            _insert(conn, "folders", id=folder_id, user_id="u1", name=name, public=False, allow_uploads=False,
                    **stamps)
        for link_id, folder_id in (("l-in", "f-kept"), ("l-dangling", "f-gone")):
            _insert(conn, "links", id=link_id, user_id="u1", domain="", slug=link_id, slug_key=link_id, code=link_id,
                    destination=f"https://{link_id}.example/", destination_type="link", views=0, enabled=True,
                    cloaking=False, deep_linking=False, folder_id=folder_id, **stamps)
        _insert(conn, "tags", id="t1", user_id="u1", name="t", name_key="t", color="#123456", **stamps)
        _insert(conn, "link_tags", link_id="l-in", tag_id="t1")
        conn.execute(sa.text("DELETE FROM folders WHERE id = 'f-gone'"))

    upgrade(directory=directory)
    with db.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, folder_id FROM links")).all())
        tagged = conn.execute(sa.text("SELECT link_id FROM link_tags")).scalars().all()
    assert rows == {"l-in": "f-kept", "l-dangling": None} and tagged == ["l-in"]

    db.session.delete(db.session.get(Folder, "f-kept"))  # the key now empties the link's folder
    db.session.commit()
    assert db.session.get(Link, "l-in").folder_id is None and db.session.query(Link).count() == 2
    db.session.remove()  # the downgrade's ALTER TABLE would wait for this session's read

    downgrade(directory=directory, revision=PREVIOUS)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM links")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM link_tags")).scalar() == 1


def test_rebuilding_a_referenced_table_deletes_nothing_that_points_at_it(empty_app):
    # 5b9186b4df41 rebuilds users (SQLite batch mode); with foreign keys on, dropping the old table ran
    # every ON DELETE CASCADE pointing at it, and each user's keys, links and files went with it.
    directory = empty_app.extensions["migrate"].directory
    upgrade(directory=directory, revision="3c1d5e7a9b20")
    then = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (id, username, username_key, password_hash, role, disabled, session_version, view, "
            "url_count, file_count, used_bytes, created_at, updated_at) "
            "VALUES ('u1', 'a', 'a', 'x', 'USER', :no, 0, '{}', 0, 0, 0, :t, :t)"), {"no": False, "t": then})
        conn.execute(sa.text(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, is_token, bot, created_at) "
            "VALUES ('k1', 'u1', 'n', 'p', 'h', 's', :no, :no, :t)"), {"no": False, "t": then})
    upgrade(directory=directory)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT user_id FROM api_keys")).scalars().all() == ["u1"]


def test_the_shlink_columns_start_off_and_a_deleted_key_leaves_its_links(empty_app):
    directory = empty_app.extensions["migrate"].directory
    upgrade(directory=directory, revision="b4d1e2f3a5c6")
    then = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    stamps = {"created_at": then, "updated_at": then}
    with db.engine.begin() as conn:
        _insert(conn, "users", id="u1", username="alice", username_key="alice", password_hash="x", role="USER",
                disabled=False, session_version=0, view="{}", url_count=1, file_count=0, used_bytes=0, **stamps)
        _insert(conn, "api_keys", id="k1", user_id="u1", name="n", prefix="p", key_hash="h", scopes="s",
                is_token=False, bot=False, created_at=then)
        _insert(conn, "links", id="l1", user_id="u1", domain="", slug="a", slug_key="a", code="a",
                destination="https://a.example/", destination_type="link", views=0, enabled=True, cloaking=False,
                deep_linking=False, smart=False, **stamps)
    upgrade(directory=directory, revision="c5d6e7f8a9b0")
    with db.engine.begin() as conn:
        link = conn.execute(sa.text("SELECT valid_since, forward_query, crawlable, api_key_id FROM links")).one()
        key = conn.execute(sa.text("SELECT authored_only, domain FROM api_keys")).one()
        assert (link.valid_since, bool(link.forward_query), bool(link.crawlable), link.api_key_id) == \
            (None, False, False, None)
        assert (bool(key.authored_only), key.domain) == (False, None)
        conn.execute(sa.text("UPDATE links SET api_key_id = 'k1'"))
        conn.execute(sa.text("DELETE FROM api_keys WHERE id = 'k1'"))
        assert conn.execute(sa.text("SELECT id, api_key_id FROM links")).all() == [("l1", None)]
    downgrade(directory=directory, revision="b4d1e2f3a5c6")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM links")).scalars().all() == ["l1"]
