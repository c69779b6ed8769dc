"""The link doors judge what they are given: links.create_link / update_link validate every link field and the
ownership of the images a link points at, apply the caller's creation limit, and hash passwords, whoever calls
them; each dialect and page shows the service's own error. bulk.create_links validates its items itself."""

from __future__ import annotations

import html
import uuid

import pytest

from tests.conftest import Api, count, fresh
from tests.web.test_pages import csrf, log_in
from zipshort.api.h0p import NAMES as H0P
from zipshort.api.zipline.urls import NAMES as ZIPLINE
from zipshort.errors import NotFound, RateLimited, ValidationError
from zipshort.extensions import db
from zipshort.models import File, Folder, Link, Role, new_id, utcnow
from zipshort.services import bulk, creationlimits, links
from zipshort.web.links import NAMES as PAGES

URL = "https://example.com/"
TOO_MANY_RULES = [{"destination": {"type": "link", "value": URL}, "languages": ["fr"]}] * 21
BAD_PRIORITY = [{"priority": -1, "destination": {"type": "link", "value": URL}}]
LONG_UTM = {"source": "x" * 256}
BAD_COLOUR = {"options": {"dotsOptions": {"color": "#12"}}}


def refused(call) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value


DEFAULT = links.FieldNames()


def create(rt, user, names=DEFAULT, **fields):
    return links.create_link(rt, user, links.NewLink(destination=URL, **fields), names=names)


# --- validation in the door ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields,message,field", [
    ({"rules": TOO_MANY_RULES}, "rules must be a list of at most 20 rules", "rules"),
    ({"rules": BAD_PRIORITY}, "rules[0].priority must be a whole number from 0", "rules"),
    ({"rules": "all"}, "rules must be a list of at most 20 rules", "rules"),
    ({"utm": LONG_UTM}, "utm.source must be text of at most 255 characters", "utm"),
    ({"utm": {"bogus": "x"}}, "utm.bogus is not a UTM parameter", "utm"),
    ({"qr_options": BAD_COLOUR}, "qrCode.options.dotsOptions.color must look like #RRGGBB", "qrCode"),
    ({"qr_options": {"options": {"width": 10}}}, "qrCode.options.width must be 50-4000", "qrCode"),
    ({"tags": ["x" * 31]}, "tags must be at most 10 names of 1-30 characters", "tags"),
    ({"image": "javascript:alert(1)"}, "image must start with http:// or https://", "image"),
    ({"title": "t" * 256}, "title must be text of at most 255 characters", "title"),
    ({"description": "d" * 2001}, "description must be text of at most 2000 characters", "description"),
])
def test_create_link_refuses_invalid_extras_itself(rt, user, fields, message, field):
    error = refused(lambda: create(rt, user, **fields))
    assert error.message.startswith(message) and error.field == field
    assert count(Link) == 0 and fresh(type(user), user.id).url_count == 0


@pytest.mark.parametrize("fields,message", [
    ({"rules": BAD_PRIORITY}, "rules[0].priority must be a whole number from 0"),
    ({"utm": LONG_UTM}, "utm.source must be text of at most 255 characters"),
    ({"qr_options": BAD_COLOUR}, "qrCode.options.dotsOptions.color must look like #RRGGBB"),
    ({"tags": "not a list"}, "tags must be at most 10 names"),
])
def test_update_link_refuses_invalid_extras_itself_and_changes_nothing(rt, user, make_link, fields, message):
    link = make_link(user, vanity="keep", utm={"source": "news"})
    assert refused(lambda: links.update_link(rt, user, link.id, links.LinkChanges(**fields))).message \
        .startswith(message)
    kept = fresh(Link, link.id)
    assert kept.utm == {"source": "news"} and kept.rules is None and kept.qr_options is None


def test_the_door_stores_the_validated_form(rt, user):
    link = create(rt, user, utm={"source": "news", "medium": ""}, tags=[" Spring "],
                  rules=[{"destination": {"type": "link", "value": "https://fr.example/"}, "countries": ["fr"]}],
                  qr_options={"options": {"width": 300}}, title="  T  ", description=" two\nlines ")
    assert link.utm == {"source": "news"} and [t.name for t in link.tags] == ["Spring"]
    assert link.rules[0]["countries"] == ["FR"] and link.rules[0]["priority"] == 0
    assert link.qr_options == {"options": {"width": 300}, "imageId": None}
    assert (link.title, link.description, link.smart) == ("T", "two\nlines", True)


def test_the_door_hashes_the_password(rt, user):
    link = create(rt, user, password="open sesame")
    assert link.password_hash != "open sesame" and rt.passwords.verify(link.password_hash, "open sesame")
    changed = links.update_link(rt, user, link.id, links.LinkChanges(password="another one"))
    assert rt.passwords.verify(changed.password_hash, "another one")
    assert links.update_link(rt, user, link.id, links.LinkChanges(password=None)).password_hash is None


def test_the_dialects_schemes_apply_to_the_destination(rt, user):
    error = refused(lambda: links.create_link(rt, user, links.NewLink(destination="http://example.com/",
                                                                      schemes=("https",))))
    assert error.message == "Destination must start with https://" and error.field == "destination"
    assert links.create_link(rt, user, links.NewLink(destination=URL, schemes=("https",))).destination == URL


# --- each dialect shows the door's error -----------------------------------------------------------------------------

# (what the service is given, the Zipline API body's part, the h0p body's part, the links page's form fields)
SHOWN = [
    ({"rules": BAD_PRIORITY}, {"rules": BAD_PRIORITY}, {"rules": BAD_PRIORITY},
     {"rules": '[{"priority": -1, "destination": {"type": "link", "value": "https://example.com/"}}]'}),
    ({"rules": TOO_MANY_RULES}, {"rules": TOO_MANY_RULES}, {"rules": TOO_MANY_RULES}, None),
    ({"utm": LONG_UTM}, {"utm": LONG_UTM}, None, {"utm_source": "x" * 256}),
    ({"qr_options": {"options": {"dotsOptions": {"color": "#12"}, "backgroundOptions": {"color": "#ffffff"}}}},
     {"qrOptions": {"options": {"dotsOptions": {"color": "#12"}, "backgroundOptions": {"color": "#ffffff"}}}},
     {"qrCode": {"options": {"dotsOptions": {"color": "#12"}, "backgroundOptions": {"color": "#ffffff"}}}},
     {"qr_dark": "#12", "qr_light": "#ffffff"}),
    ({"tags": ["x" * 31]}, {"tags": ["x" * 31]}, {"tags": ["x" * 31]}, {"tags": "x" * 31}),
    ({"description": "d" * 2001}, {"description": "d" * 2001}, {"metaTags": {"description": "d" * 2001}},
     {"description": "d" * 2001}),
]


@pytest.mark.parametrize("service,zipline,h0p,page", SHOWN, ids=lambda v: str(v)[:24])
def test_every_dialect_shows_the_doors_own_error(rt, client, user, make_key, service, zipline, h0p, page):
    key = make_key(user)
    if zipline is not None:
        expected = refused(lambda: create(rt, user, ZIPLINE, **service)).message
        res = Api(client, key).post("/api/user/urls", json={"destination": URL, **zipline})
        assert res.status_code == 400 and res.get_json()["error"] == expected
    if h0p is not None:
        expected = refused(lambda: create(rt, user, H0P, **service)).message
        res = Api(client, key, "x-api-key").post("/short-link", json={"destination": {"type": "link", "value": URL},
                                                                      **h0p})
        assert res.status_code == 400 and res.get_json()["message"] == expected
    if page is not None:
        expected = refused(lambda: create(rt, user, PAGES, **service)).message
        assert log_in(client).status_code == 303
        form = client.get("/dashboard/urls")
        res = client.post("/dashboard/urls", data={"csrf_token": csrf(form), "destination": URL, **page})
        assert res.status_code == 400
        assert f'<p class="flash error" role="alert">{html.escape(expected)}</p>' in res.get_data(as_text=True)
    assert count(Link) == 0


def test_the_qr_field_is_named_as_each_dialect_names_it(rt, user):
    bad = {"qr_options": BAD_COLOUR}
    assert refused(lambda: create(rt, user, ZIPLINE, **bad)).message.startswith("qrOptions.options.")
    assert refused(lambda: create(rt, user, H0P, **bad)).message.startswith("qrCode.options.")
    assert refused(lambda: create(rt, user, PAGES, **bad)).message.startswith("qrCode.options.")


# --- images a link points at must be the owner's ---------------------------------------------------------------------


@pytest.fixture
def make_file(user):
    """A file row of ``owner`` (its bytes are never read here: the doors only check whose it is and its type)."""

    def factory(owner=None, content_type: str = "image/png"):
        owner = owner or user
        row = File(id=new_id(), user_id=owner.id, name=f"{uuid.uuid4().hex[:10]}.png", original_name="card.png",
                   size=4, type=content_type, sha256="0" * 64, storage_key=f"test/{uuid.uuid4().hex}",
                   created_at=utcnow(), updated_at=utcnow())
        db.session.add(row)
        db.session.commit()
        return row

    return factory


def test_a_preview_image_must_be_one_of_the_owners_images(rt, user, make_user, make_file):
    mine, theirs, text = make_file(), make_file(make_user("bob")), make_file(content_type="text/plain")
    with pytest.raises(NotFound):
        create(rt, user, H0P, image_id=theirs.id)
    with pytest.raises(NotFound):
        create(rt, user, H0P, image_id="no-such-file")
    error = refused(lambda: create(rt, user, H0P, image_id=text.id))
    assert error.message == "metaTags.imageId must be an image file" and error.field == "metaTags"
    assert count(Link) == 0
    link = create(rt, user, H0P, image_id=mine.id, image="https://ignored.example/i.png")
    assert link.image == f"file:{mine.id}" and link.smart


def test_an_edit_to_someone_elses_preview_image_is_refused(rt, user, make_user, make_link, make_file):
    link = make_link(user, image="https://cdn.example/i.png")
    with pytest.raises(NotFound):
        links.update_link(rt, user, link.id, links.LinkChanges(image_id=make_file(make_user("bob")).id))
    assert fresh(Link, link.id).image == "https://cdn.example/i.png"
    mine = make_file()
    assert links.update_link(rt, user, link.id, links.LinkChanges(image_id=mine.id)).image == f"file:{mine.id}"


def test_a_qr_logo_must_be_one_of_the_owners_images(rt, user, make_user, make_link, make_file):
    theirs = make_file(make_user("bob"))
    with pytest.raises(NotFound):
        create(rt, user, ZIPLINE, qr_options={"options": {}, "imageId": theirs.id})
    link = make_link(user)
    with pytest.raises(NotFound):
        links.update_link(rt, user, link.id, links.LinkChanges(qr_options={"options": {}, "imageId": theirs.id}),
                          names=ZIPLINE)
    assert fresh(Link, link.id).qr_options is None
    mine = make_file()
    made = create(rt, user, qr_options={"options": {"width": 200}, "imageId": mine.id})
    assert made.qr_options["imageId"] == mine.id


def test_an_unchanged_qr_logo_is_not_checked_again(rt, user, make_file):
    """The pages send the stored logo back with every edit; a logo deleted since must not block the edit."""
    logo = make_file()
    link = create(rt, user, qr_options={"options": {"width": 200}, "imageId": logo.id})
    db.session.delete(fresh(File, logo.id))
    db.session.commit()
    edited = links.update_link(rt, user, link.id, links.LinkChanges(
        qr_options={"options": {"width": 300}, "imageId": logo.id}, title="kept"))
    assert edited.qr_options == {"options": {"width": 300}, "imageId": logo.id} and edited.title == "kept"


def test_the_zipline_api_and_h0p_refuse_someone_elses_image_through_the_door(client, user, make_user, make_key,
                                                                              make_file):
    theirs = make_file(make_user("bob"))
    key = make_key(user)
    zipline = Api(client, key).post("/api/user/urls", json={"destination": URL,
                                                            "qrOptions": {"options": {}, "imageId": theirs.id}})
    h0p = Api(client, key, "x-api-key").post("/short-link", json={"destination": {"type": "link", "value": URL},
                                                                  "metaTags": {"imageId": theirs.id}})
    assert zipline.status_code == 404 and h0p.status_code == 404 and count(Link) == 0


# --- creation limits in the door -------------------------------------------------------------------------------------


class TestGeneralLimit:
    @pytest.fixture
    def overrides(self):
        return {"ratelimit": {"enabled": True, "max": 2, "window": 60}}

    def test_the_door_applies_the_callers_limit(self, rt, user, make_user):
        limit = creationlimits.GeneralLimit("urls", "198.51.100.7")
        for _ in range(2):
            links.create_link(rt, user, links.NewLink(destination=URL), limit=limit)
        with pytest.raises(RateLimited) as info:
            links.create_link(rt, user, links.NewLink(destination=URL), limit=limit)
        assert info.value.message.startswith("Rate limit exceeded, retry in ") and info.value.retry_after > 0
        assert count(Link) == 2 and fresh(type(user), user.id).url_count == 2
        links.create_link(rt, user, links.NewLink(destination=URL))  # a caller without a limit (the pages)
        admin = make_user("root", role=Role.ADMIN)
        for _ in range(3):  # administrators skip it
            links.create_link(rt, admin, links.NewLink(destination=URL), limit=limit)

    def test_an_invalid_request_still_counts(self, rt, user):
        limit = creationlimits.GeneralLimit("urls", "198.51.100.7")
        for _ in range(2):
            with pytest.raises(ValidationError):
                links.create_link(rt, user, links.NewLink(destination="nope"), limit=limit)
        with pytest.raises(RateLimited):
            links.create_link(rt, user, links.NewLink(destination=URL), limit=limit)


class TestPerKeyLimit:
    @pytest.fixture
    def overrides(self):
        return {"urls": {"hozip_create_limit": "2/minute"}}

    def test_the_message_comes_from_the_setting(self, rt, user):
        for _ in range(2):
            links.create_link(rt, user, links.NewLink(destination=URL), limit=creationlimits.PerKeyLimit("k1"))
        with pytest.raises(RateLimited) as info:
            links.create_link(rt, user, links.NewLink(destination=URL), limit=creationlimits.PerKeyLimit("k1"))
        assert info.value.message == "Request was throttled: at most 2 link creations per minute per API key."
        links.create_link(rt, user, links.NewLink(destination=URL), limit=creationlimits.PerKeyLimit("k2"))

    def test_hozip_answers_with_it(self, client, user, make_key):
        hozip = Api(client, make_key(user), "token")
        for _ in range(2):
            assert hozip.post("/api/v1/external/links/create-link", json={"long_url": URL}).status_code == 201
        res = hozip.post("/api/v1/external/links/create-link", json={"long_url": URL})
        assert res.status_code == 429
        assert res.get_json() == {"detail": "Request was throttled: at most 2 link creations per minute per API key.",
                                  "error_code": "throttled"}


# --- hoko's bulk door ------------------------------------------------------------------------------------------------


def test_bulk_create_links_validates_its_items_itself(rt, user):
    from zipshort.services import folders

    folder = folders.create_folder(user, "c")
    with pytest.raises(bulk.ItemError) as info:
        bulk.create_links(rt, user, [{"url": URL, "collectionId": folder.id},
                               {"url": URL, "collectionId": folder.id, "utm": {"bogus": "x"}}])
    assert info.value.index == 1 and "utm.bogus is not a UTM parameter" in info.value.message
    with pytest.raises(ValidationError, match="non-empty array"):
        bulk.create_links(rt, user, {"url": URL})
    assert count(Link) == 0
    made = bulk.create_links(rt, user, [{"url": URL, "collectionId": folder.id, "utm": {"source": "x"}}])
    assert len(made) == 1 and fresh(Link, made[0].id).utm == {"source": "x"}


def test_a_folder_that_is_not_the_owners_means_the_default_one_when_asked(rt, user, make_user):
    from zipshort.services import folders

    mine, theirs = folders.create_folder(user, "mine"), folders.create_folder(make_user("bob"), "theirs")
    assert create(rt, user, folder_id=mine.id, or_default_folder=True).folder_id == mine.id
    default = create(rt, user, folder_id=theirs.id, or_default_folder=True).folder_id
    assert default == folders.default_folder(user).id != theirs.id
    assert create(rt, user, or_default_folder=True).folder_id == default
    with pytest.raises(NotFound):
        create(rt, user, folder_id=theirs.id)
    carol = make_user("carol")
    with pytest.raises(ValidationError):  # no default folder is made for a request the door refuses
        create(rt, carol, destination_type="fax", or_default_folder=True)
    assert db.session.query(Folder).filter_by(user_id=carol.id).count() == 0
