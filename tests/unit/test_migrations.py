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


def test_the_folder_key_of_links_keeps_every_link_and_tag_and_clears_dangling_ids(empty_app):
    from zipshort.models import Folder, Link
    from zipshort.services import accounts, folders, links, tags

    directory = empty_app.extensions["migrate"].directory
    upgrade(directory=directory, revision=PREVIOUS)
    rt = empty_app.extensions["zipshort"]
    owner = accounts.create_user(rt, "alice", "correct horse")
    folder = folders.create_folder(owner, "kept")
    gone = folders.create_folder(owner, "gone")
    in_folder = links.create_link(rt, owner, links.NewLink(destination="https://a.example/", folder_id=folder.id))
    dangling = links.create_link(rt, owner, links.NewLink(destination="https://b.example/", folder_id=gone.id))
    tag = tags.create_tag(owner, "t", "#123456")
    with db.engine.begin() as conn:  # before the key: a deleted folder's id stays on its links
        conn.execute(sa.text("INSERT INTO link_tags (link_id, tag_id) VALUES (:l, :t)"),
                     {"l": in_folder.id, "t": tag.id})
        conn.execute(sa.text("DELETE FROM folders WHERE id = :id"), {"id": gone.id})
    db.session.remove()

    upgrade(directory=directory)
    with db.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, folder_id FROM links")).all())
        tagged = conn.execute(sa.text("SELECT link_id FROM link_tags")).scalars().all()
    assert rows == {in_folder.id: folder.id, dangling.id: None} and tagged == [in_folder.id]

    db.session.delete(db.session.get(Folder, folder.id))  # the key now empties the link's folder
    db.session.commit()
    assert db.session.get(Link, in_folder.id).folder_id is None and db.session.query(Link).count() == 2
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
