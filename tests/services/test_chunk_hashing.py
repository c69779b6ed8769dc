"""A chunked upload is hashed as its chunks arrive and written once (services/partials.py, rt.chunk_hashes).

Each process keeps a running SHA-256 of the bytes it received in order, and follows from the file the recorded
chunks that went to other processes while it writes its own; the assembly goes on from it and reads back only
what it does not cover. Two apps on one database and one files folder stand for two server processes
(each has its own Runtime, so its own hashes). Where a test must tell "read back" from "hashed as it arrived",
it changes a byte of the assembly file behind the server's back: a byte hashed as it arrived is not read again
(the recorded hash still matches what the client sent), a byte read back is (the hash matches the file).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import IsolatedClient, burst, count, fetch
from tests.e2e.uploads import assert_exact, send_chunk
from zipshort import create_app
from zipshort.counters import RunningHashes
from zipshort.extensions import db
from zipshort.models import File, PartialUpload
from zipshort.services import partials
from zipshort.storage import RunningHash

PIECE = 50_000
DATA = os.urandom(4 * PIECE)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def post(client, n: int, data: bytes = DATA, last: bool | None = None, **ids: str):
    """Chunk ``n`` (of PIECE bytes) through ``client``'s app; the last one says so."""
    start = n * PIECE
    last = start + PIECE >= len(data) if last is None else last
    headers = {"Content-Range": f"bytes {start}-{start + PIECE - 1}/{len(data)}", "x-zipline-p-filename": "big.bin",
               "x-zipline-p-content-type": "application/octet-stream", "x-zipline-p-lastchunk": str(last).lower(),
               **{f"x-zipline-p-{k}": v for k, v in ids.items()}}
    return client.post("/api/upload/partial", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data[start:start + PIECE]), "blob")})


@pytest.fixture
def key(user, make_key):
    return make_key(user)


@pytest.fixture
def first(client, key):
    """A client of this app (process A) with the key, and the upload's identifier after chunk 0 went to A."""
    client.environ_base["HTTP_AUTHORIZATION"] = key
    answer = post(client, 0)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["partialIdentifier"]


@pytest.fixture
def other(settings, key):
    """A second app on the same database and files folder: another server process, with its own hashes."""
    app = create_app(settings)
    app.test_client_class = IsolatedClient
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = key
    yield client
    with app.app_context():
        app.extensions["zipshort"].events.drain(10)
        db.session.remove()
        db.engine.dispose()


def assembly(rt) -> Path:
    (path,) = rt.storage.temp.glob("*.partial")
    return path


def flip(path: Path, at: int) -> None:
    """Change one byte of the assembly file behind the server's back."""
    with open(path, "r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0xFF]))


def stored(rt, answer) -> tuple[str, bytes]:
    """The recorded SHA-256 and the stored bytes of the file an answer names."""
    assert answer.status_code == 200, answer.get_json()
    db.session.rollback()
    row = db.session.scalars(sa.select(File).where(File.name == answer.get_json()["files"][0]["name"])).one()
    with rt.storage.open(row.storage_key) as fh:
        return row.sha256, fh.read()


def flipped(data: bytes, *at: int) -> bytes:
    changed = bytearray(data)
    for i in at:
        changed[i] ^= 0xFF
    return bytes(changed)


def test_in_order_chunks_are_hashed_as_they_arrive_and_not_read_back(client, rt, first):
    for n in (1, 2):
        assert post(client, n, identifier=first).status_code == 200
    session_id = db.session.scalar(sa.select(PartialUpload.id))
    db.session.rollback()
    assert rt.chunk_hashes.take(session_id, 3 * PIECE) is not None  # hashed up to where chunk 3 starts
    flip(assembly(rt), 10)  # a byte already hashed
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert digest == sha(DATA) and data == flipped(DATA, 10)  # the hash is what arrived: nothing was read back
    assert len(rt.chunk_hashes) == 0 and count(PartialUpload) == 0


def test_out_of_order_chunks_read_back_only_what_the_hash_does_not_cover(client, rt, first):
    assert post(client, 2, identifier=first).status_code == 200  # not next to the hashed bytes: not hashed
    assert post(client, 1, identifier=first).status_code == 200  # next: hashed, the hash now ends at chunk 2
    flip(assembly(rt), 10)  # hashed as it arrived
    flip(assembly(rt), 2 * PIECE + 10)  # not hashed: read back at the assembly
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert data == flipped(DATA, 10, 2 * PIECE + 10)
    assert digest == sha(flipped(DATA, 2 * PIECE + 10))


def test_the_last_chunk_sent_early_then_again_completes_from_the_hash(client, rt, first):
    incomplete = post(client, 3, identifier=first)
    assert incomplete.status_code == 400 and incomplete.get_json()["code"] == "incomplete"
    for n in (1, 2):
        assert post(client, n, identifier=first).status_code == 200
    digest, data = stored(rt, post(client, 3, identifier=first))  # resent: hashed this time
    assert digest == sha(DATA) and data == DATA


def test_a_retried_chunk_is_right_and_counts_once(client, rt, user, first):
    assert post(client, 1, identifier=first).status_code == 200
    assert post(client, 1, identifier=first).status_code == 200  # the client did not see the answer: again
    assert post(client, 0, identifier=first).status_code == 200  # even the first one
    assert post(client, 2, identifier=first).status_code == 200
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert digest == sha(DATA) and data == DATA
    assert assert_exact(user.id)["used_bytes"] == len(DATA)


def test_a_refused_chunk_leaves_the_hash_as_it_was(client, rt, first):
    start = PIECE
    too_long = client.post("/api/upload/partial", content_type="multipart/form-data",
                           headers={"Content-Range": f"bytes {start}-{start + 99}/{len(DATA)}",
                                    "x-zipline-p-identifier": first},
                           data={"file": (io.BytesIO(DATA[start:start + PIECE]), "blob")})
    assert too_long.status_code == 400 and too_long.get_json()["error"] == "Chunk length does not match content-range"
    for n in (1, 2):  # the chunk again, as it should be: still next to the hash
        assert post(client, n, identifier=first).status_code == 200
    flip(assembly(rt), PIECE + 10)
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert digest == sha(DATA) and data == flipped(DATA, PIECE + 10)  # hashed as it arrived, not read back


def test_chunks_alternating_between_processes_are_followed_not_read_back(client, other, rt, first):
    assert post(other, 1, identifier=first).status_code == 200  # B has no hash: follows chunk 0 from the file
    assert post(client, 2, identifier=first).status_code == 200  # A's ends at chunk 1: follows it, then chunk 2
    flip(assembly(rt), 10)  # hashed by both already: never read again
    flip(assembly(rt), 2 * PIECE + 10)  # chunk 2 came to A: B follows it from the file when chunk 3 comes
    digest, data = stored(rt, post(other, 3, identifier=first))
    assert data == flipped(DATA, 10, 2 * PIECE + 10) and digest == sha(flipped(DATA, 2 * PIECE + 10))


def test_a_process_follows_only_over_recorded_bytes(client, other, rt, first):
    other_hashes = other.application.extensions["zipshort"].chunk_hashes
    assert post(other, 2, identifier=first).status_code == 200  # chunk 1 is not there yet: B cannot follow
    assert len(other_hashes) == 0
    assert post(client, 1, identifier=first).status_code == 200  # next to A's hash: hashed as it arrives
    digest, data = stored(rt, post(other, 3, identifier=first))  # all recorded now: B follows from 0
    assert digest == sha(DATA) and data == DATA


def test_a_refused_chunk_drops_what_its_follower_hashed(client, other, rt, first):
    other_hashes = other.application.extensions["zipshort"].chunk_hashes
    too_long = other.post("/api/upload/partial", content_type="multipart/form-data",
                          headers={"Content-Range": f"bytes {PIECE}-{PIECE + 99}/{len(DATA)}",
                                   "x-zipline-p-identifier": first},
                          data={"file": (io.BytesIO(DATA[PIECE:2 * PIECE]), "blob")})
    assert too_long.status_code == 400 and len(other_hashes) == 0
    for n in (1, 2):
        assert post(other, n, identifier=first).status_code == 200
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert digest == sha(DATA) and data == DATA


def test_a_finish_with_no_hash_follows_the_file_from_the_start(client, other, rt, first):
    for n in (1, 2):
        assert post(client, n, identifier=first).status_code == 200
    digest, data = stored(rt, post(other, 3, identifier=first))  # the last chunk lands on the other process
    assert digest == sha(DATA) and data == DATA


@pytest.mark.parametrize("protocol", ["identifier", "token"])
def test_many_chunks_in_order_over_the_real_server(live_server, rt, user, key, protocol):
    data = os.urandom(64 * 1024 + 5)
    size = 4096
    follow: dict[str, str] = {}
    for start in range(0, len(data), size):
        end = min(start + size, len(data))
        answer = send_chunk(live_server.url, key, data[start:end], start, end - 1, len(data), last=end == len(data),
                            **follow)
        assert answer.status_code == 200, answer.json()
        body = answer.json()
        if body.get("partialSuccess"):
            follow = {"x_zipline_p_identifier": body["partialIdentifier"]} if protocol == "identifier" else \
                {"x_zipline_p_token": body["partialToken"]}
    assert fetch("GET", f"{live_server.url}/raw/{body['files'][0]['name']}").content == data
    assert db.session.scalars(sa.select(File.sha256)).one() == sha(data)
    assert len(rt.chunk_hashes) == 0 and list(rt.storage.temp.iterdir()) == []


@pytest.mark.parametrize("attempt", range(2))
def test_parallel_chunks_over_the_real_server(live_server, rt, user, key, attempt):
    pieces = 12
    data = os.urandom(pieces * 20_000)
    step = len(data) // pieces
    ident = send_chunk(live_server.url, key, data[:step], 0, step - 1, len(data)).json()["partialIdentifier"]

    def chunk(i: int):  # every middle chunk at once, some twice
        n = 1 + i % (pieces - 2)
        return send_chunk(live_server.url, key, data[n * step:(n + 1) * step], n * step, (n + 1) * step - 1,
                          len(data), x_zipline_p_identifier=ident)

    assert Counter(r.status_code for r in burst(16, chunk, workers=16)) == {200: 16}
    done = send_chunk(live_server.url, key, data[-step:], len(data) - step, len(data) - 1, len(data), last=True,
                      x_zipline_p_identifier=ident)
    assert done.status_code == 200, done.json()
    assert fetch("GET", f"{live_server.url}/raw/{done.json()['files'][0]['name']}").content == data
    assert db.session.scalars(sa.select(File.sha256)).one() == sha(data)
    c = assert_exact(user.id)
    assert (c["used_bytes"], c["reserved_bytes"]) == (len(data), 0)


def test_parallel_uploads_in_one_process_each_get_their_own_hash(live_server, rt, user, key):
    datas = [os.urandom(3 * PIECE) for _ in range(4)]

    def upload(data: bytes) -> str:
        ident = send_chunk(live_server.url, key, data[:PIECE], 0, PIECE - 1, len(data)).json()["partialIdentifier"]
        send_chunk(live_server.url, key, data[PIECE:2 * PIECE], PIECE, 2 * PIECE - 1, len(data),
                   x_zipline_p_identifier=ident)
        done = send_chunk(live_server.url, key, data[2 * PIECE:], 2 * PIECE, len(data) - 1, len(data), last=True,
                          x_zipline_p_identifier=ident)
        return done.json()["files"][0]["name"]

    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(upload, datas))
    db.session.rollback()
    for name, data in zip(names, datas, strict=True):
        row = db.session.scalars(sa.select(File).where(File.name == name)).one()
        assert row.sha256 == sha(data) and fetch("GET", f"{live_server.url}/raw/{name}").content == data


def test_cancelling_drops_the_hash(client, rt, user, first):
    session_id = db.session.scalar(sa.select(PartialUpload.id))
    db.session.rollback()
    assert len(rt.chunk_hashes) == 1
    assert [s.id for s in partials.cancel(rt, user, [session_id])] == [session_id]
    assert len(rt.chunk_hashes) == 0


def test_the_hashes_are_bounded():
    hashes = RunningHashes(capacity=3)
    for n in range(5):
        hashes.advance(f"u{n}", RunningHash(10, hashlib.sha256(b"x" * 10)))
    assert len(hashes) == 3 and hashes.take("u0", 10) is None and hashes.take("u4", 10) is not None
    hashes.advance("u4", RunningHash(5, hashlib.sha256(b"x" * 5)))  # a shorter one never replaces a longer one
    assert hashes.take("u4", 10) is not None and hashes.take("u4", 5) is None
    assert hashes.take("new", 0) is not None and hashes.take("new", 7) is None  # from 0 a fresh one, else none


def test_a_chunk_cut_short_keeps_the_session_and_its_hash(client, rt, user, first):
    def cut_short(open_part):
        target = open_part()
        target.write(DATA[PIECE:PIECE + 1000])
        raise ConnectionResetError("the client went away")

    session = db.session.scalars(sa.select(PartialUpload)).one()
    with pytest.raises(ConnectionResetError):
        partials.receive_chunk(rt, user, cut_short, partials.parse_content_range(
            f"bytes {PIECE}-{2 * PIECE - 1}/{len(DATA)}", False), identifier=first, token=None, options={})
    db.session.rollback()
    assert count(PartialUpload) == 1 and rt.chunk_hashes.take(session.id, PIECE) is not None
    for n in (1, 2):  # sent again
        assert post(client, n, identifier=first).status_code == 200
    flip(assembly(rt), PIECE + 10)
    digest, data = stored(rt, post(client, 3, identifier=first))
    assert digest == sha(DATA) and data == flipped(DATA, PIECE + 10)  # hashed as it arrived the second time
