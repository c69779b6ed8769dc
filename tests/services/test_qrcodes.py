"""QR codes of links: the code decodes to the URL, honours colours and width, and draws a logo only from
the link owner's own image."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from zipshort.errors import NotFound
from zipshort.services import qrcodes

URL = "https://sho.rt/go/abc"


def png_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def decoded(image: Image.Image) -> str:
    (result,) = zxingcpp.read_barcodes(image.convert("L"))
    return result.text


def image_bytes(color=(220, 20, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), color).save(out, "PNG")
    return out.getvalue()


def test_find_answers_the_link_on_its_domain_or_everywhere(user, make_link):
    link = make_link(user, vanity="qr-me")
    assert qrcodes.find("QR-ME", "any.host").id == link.id
    with pytest.raises(NotFound):
        qrcodes.find("nope", "any.host")
    with pytest.raises(NotFound):
        qrcodes.find("../x", "any.host")


def test_png_decodes_to_the_url_in_the_chosen_width_and_colours(rt):
    options = {"options": {"width": 400, "dotsOptions": {"color": "#112233"},
                           "backgroundOptions": {"color": "#ffeedd"}}}
    image = png_of(qrcodes.render(URL, options, "png"))
    assert 350 <= image.width <= 400 and decoded(image) == URL
    assert {image.getpixel((0, 0)), image.getpixel((image.width // 2, image.height // 2))} <= {(0x11, 0x22, 0x33),
                                                                                             (0xff, 0xee, 0xdd)}
    assert image.getpixel((0, 0)) == (0xff, 0xee, 0xdd)  # the quiet zone is the background


def test_svg_carries_the_colours(rt):
    svg = qrcodes.render(URL, {"options": {"dotsOptions": {"color": "#112233"}}}, "svg").decode()
    assert "<svg" in svg and 'stroke="#123"' in svg and 'fill="#fff"' in svg  # segno shortens the colours


def test_the_owners_image_is_drawn_in_the_middle_and_the_code_still_reads(rt, user, make_file):
    logo = make_file(user, image_bytes(), name="logo.png", type="image/png")
    image = png_of(qrcodes.render(URL, {"imageId": logo.id}, "png", rt.storage, user.id))
    assert image.getpixel((image.width // 2, image.height // 2)) == (220, 20, 60)
    assert decoded(image) == URL


@pytest.mark.parametrize("whose", ["someone else's", "not an image", "unknown"])
def test_no_logo_from_anything_but_the_owners_image(rt, user, make_user, make_file, whose):
    if whose == "someone else's":
        image_id = make_file(make_user("bob"), image_bytes(), name="b.png", type="image/png").id
    elif whose == "not an image":
        image_id = make_file(user, b"text", name="a.txt", type="text/plain").id
    else:
        image_id = "no-such-file"
    with_option = qrcodes.render(URL, {"imageId": image_id}, "png", rt.storage, user.id)
    assert with_option == qrcodes.render(URL, None, "png")  # drawn exactly as without a logo
