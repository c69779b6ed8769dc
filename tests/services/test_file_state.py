"""One liveness rule for files (services/files.py): the serving SQL, the miss classification, the thumbnail
route and the file cards agree on every state; the thumbnail sentinel means the same everywhere."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import update

from tests.conftest import fresh
from zipshort.errors import Gone
from zipshort.extensions import db
from zipshort.models import File, User
from zipshort.services import downloads, files, uploads
from zipshort.services.thumbnails import FAILED, stored_thumbnail
from zipshort.services.uploads import Part, UploadOptions
from zipshort.web.cards import thumbnail_url

STATES = {"live": files.LIVE, "old": files.EXPIRED, "done": files.USED_UP, "off": files.DISABLED}


@pytest.fixture
def walk(app, rt, make_user, user):
    """One file in each state; the disabled one belongs to a disabled owner. Each has a thumbnail blob."""
    other = make_user("bob")
    made = {}
    for name, owner, options in (("live", user, UploadOptions()), ("old", user, UploadOptions()),
                                 ("done", user, UploadOptions(max_views=1)), ("off", other, UploadOptions())):
        result = uploads.create_upload(rt, owner, [Part(f"{name}.txt", "text/plain", io.BytesIO(b"text"))],
                                       UploadOptions(**{**options.__dict__, "filename": name}))
        made[name] = result.files[0].id
    thumb = rt.storage.write([b"a jpeg"]).key
    db.session.execute(update(File).values(thumbnail_key=thumb))
    db.session.execute(update(File).where(File.id == made["old"])
                       .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.session.execute(update(User).where(User.id == other.id).values(disabled=True))
    db.session.commit()
    assert app.test_client().get("/u/done.txt").status_code == 200  # its one view (by a visitor of its own)
    return {name: fresh(File, ident) for name, ident in made.items()}


def test_the_python_rule_names_each_state(walk):
    assert {name: files.file_state(row) for name, row in walk.items()} == STATES
    assert {name: files.is_live(row) for name, row in walk.items()} == {n: n == "live" for n in STATES}


def test_serving_uses_the_same_rule(rt, client, walk):
    for name in STATES:
        live = name == "live"
        assert client.get(f"/u/{name}.txt").status_code == (200 if live else 404), name
        if live:
            assert downloads.find_file(rt, f"{name}.txt").size == 4
        else:
            with pytest.raises(Gone):
                downloads.find_file(rt, f"{name}.txt")


def test_thumbnails_and_cards_use_the_same_rule(rt, client, walk):
    now = dt.datetime.now(dt.timezone.utc)
    for name, row in walk.items():
        live = name == "live"
        assert (thumbnail_url(row, now) is not None) is live, name
        assert client.get(f"/raw/.thumbnail.{row.id}.jpg").status_code == (200 if live else 404), name


def test_the_failed_sentinel_means_no_thumbnail(rt, client, api, walk):
    assert stored_thumbnail(None) is None and stored_thumbnail(FAILED) is None and stored_thumbnail("ab/cd/x") == \
        "ab/cd/x"
    live = walk["live"]
    db.session.execute(update(File).where(File.id == live.id).values(thumbnail_key=FAILED))
    db.session.commit()
    row = fresh(File, live.id)
    assert thumbnail_url(row, dt.datetime.now(dt.timezone.utc)) is None
    assert client.get(f"/raw/.thumbnail.{row.id}.jpg").status_code == 404
    assert api.get(f"/api/user/files/{row.id}").get_json()["thumbnail"] is None
    assert files.blob_keys([(row.storage_key, row.thumbnail_key)]) == [row.storage_key]
