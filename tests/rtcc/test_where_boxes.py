"""Where and when, some boxes: picked in the form's list or on its map, sent as repeated `boxes`
values (commas between ids also work), checked against the enrolled boxes (an unknown one or too
many is a 400 with a message, never a 500), kept through the pager and in the audit entry."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from rtcc import roles
from rtcc.models import Box
from rtcc.pages.where import MAX_BOXES
from tests.rtcc.pagekit import (  # noqa: F401
    console_site,
    make_box,
    make_camera,
    make_segment,
    make_user,
    now,
)

pytestmark = [pytest.mark.usefixtures("console_site"), pytest.mark.django_db]


def as_role(role: str | None, name: str) -> Client:
    client = Client()
    client.force_login(User.objects.filter(username=name).first() or make_user(name, role))
    return client


def window() -> dict[str, str]:
    t = now().replace(second=0)
    return {"start": f"{t - timedelta(hours=1):%Y-%m-%dT%H:%M}", "end": f"{t:%Y-%m-%dT%H:%M}"}


def boxes_with_footage(count: int, cameras: int = 1) -> None:
    for i in range(count):
        box = make_box(f"box-{i:02}")
        for c in range(cameras):
            make_segment(make_camera(box, c + 1), 1, now() - timedelta(minutes=40))


def shown(response) -> set[str]:
    return set(
        re.findall(
            r'<section class="where-camera" id="where-(box-\d+)-\d+"', response.content.decode()
        )
    )


def picked_options(response) -> list[str]:
    return re.findall(r'<option value="([^"]+)" selected>', response.content.decode())


def test_boxes_picked_as_repeated_values_and_kept_in_the_audit_entry():
    boxes_with_footage(4)
    client = as_role(roles.INVESTIGATOR, "investigator")
    response = client.get(reverse("rtcc:where"), {**window(), "boxes": ["box-03", "box-01"]})
    assert response.status_code == 200
    assert shown(response) == {"box-01", "box-03"}
    assert picked_options(response) == ["box-01", "box-03"]  # still picked on the page
    entry = AuditEvent.objects.filter(action="view", target__startswith="RTCC where").get()
    assert entry.detail["boxes"] == ["box-01", "box-03"] and entry.detail["cameras"] == 2
    # Typed with commas, mixed with a picked one: the same search.
    mixed = client.get(reverse("rtcc:where"), {**window(), "boxes": ["box-01, box-03", "box-03"]})
    assert shown(mixed) == {"box-01", "box-03"}
    # None picked: every box, and the audit entry says so.
    assert shown(client.get(reverse("rtcc:where"), window())) == {f"box-0{i}" for i in range(4)}
    assert AuditEvent.objects.filter(action="view").latest("sequence").detail["boxes"] == "all"


def test_the_list_offers_every_enrolled_box_and_the_map_waits_for_javascript():
    boxes_with_footage(2)
    make_box("box-pending", enrolment=Box.Enrolment.PENDING)
    make_box("box-revoked", enrolment=Box.Enrolment.REVOKED)
    page = as_role(roles.INVESTIGATOR, "investigator").get(reverse("rtcc:where")).content.decode()
    select = re.search(r'<select name="boxes" id="id_boxes" multiple[^>]*>(.*?)</select>', page)
    assert re.findall(r'<option value="([^"]+)"', select[1]) == ["box-00", "box-01"]
    # Without JavaScript the list is the picker: the map stays hidden until where.js shows it.
    assert re.search(r'<div id="where-map"[^>]* hidden>', page)


def test_the_pager_keeps_every_picked_box():
    boxes_with_footage(3, cameras=15)
    client = as_role(roles.INVESTIGATOR, "investigator")
    picked = {**window(), "boxes": ["box-00", "box-02"]}
    first = client.get(reverse("rtcc:where"), picked)
    assert shown(first) == {"box-00", "box-02"}  # box-00's 15 cameras, then 10 of box-02's
    link = html.unescape(re.search(r'id="where-next" href="\?([^"]+)"', first.content.decode())[1])
    second = client.get(f"{reverse('rtcc:where')}?{link}")
    # The last 5 of the 30 cameras: with a box dropped there would be one page of 15.
    assert shown(second) == {"box-02"}
    assert second.content.decode().count('class="where-camera"') == 5


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (["box-00", "box-nope"], "No enrolled box named box-nope"),
        (["box-revoked"], "No enrolled box named box-revoked"),
        (["box-pending"], "No enrolled box named box-pending"),
        ([f"box-{i}" for i in range(MAX_BOXES + 1)], f"Pick at most {MAX_BOXES} boxes"),
        (",".join(f"x{i}" for i in range(MAX_BOXES + 1)), f"Pick at most {MAX_BOXES} boxes"),
    ],
)
def test_unknown_or_too_many_boxes_are_a_400_that_keeps_the_form(boxes, message):
    boxes_with_footage(1)
    make_box("box-pending", enrolment=Box.Enrolment.PENDING)
    make_box("box-revoked", enrolment=Box.Enrolment.REVOKED)
    w = window()
    response = as_role(roles.INVESTIGATOR, "investigator").get(
        reverse("rtcc:where"), {**w, "boxes": boxes}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="errorlist' in page and message in page
    assert 'id="where-summary"' not in page
    assert f'value="{w["start"]}"' in page and f'value="{w["end"]}"' in page  # nothing lost
    assert not AuditEvent.objects.filter(action="view").exists()


def test_a_known_box_stays_picked_beside_an_unknown_one():
    boxes_with_footage(2)
    page = as_role(roles.INVESTIGATOR, "investigator").get(
        reverse("rtcc:where"), {**window(), "boxes": ["box-01", "<b>nope</b>"]}
    )
    assert page.status_code == 400 and picked_options(page) == ["box-01"]
    assert "No enrolled box named &lt;b&gt;nope&lt;/b&gt;" in page.content.decode()


@pytest.mark.parametrize("who", ["operator", "administrator", "auditor", "nobody"])
def test_roles_without_the_page_get_a_403_whatever_the_boxes(who):
    from tests.rtcc.pagekit import ROLE_USERS

    boxes_with_footage(1)
    client = as_role(ROLE_USERS[who], who)
    for boxes in (["box-00"], ["box-nope"], [f"b{i}" for i in range(MAX_BOXES + 1)]):
        assert client.get(reverse("rtcc:where"), {**window(), "boxes": boxes}).status_code == 403
    assert not AuditEvent.objects.filter(action="view").exists()


def test_strangers_are_sent_to_the_login_whatever_the_boxes(client):
    response = client.get(reverse("rtcc:where"), {**window(), "boxes": ["box-nope"]})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_map_loads_tiles_only_from_the_configured_server(settings):
    boxes_with_footage(1)
    client = as_role(roles.INVESTIGATOR, "investigator")
    assert "tiles.example.org" not in client.get(reverse("rtcc:where"))["Content-Security-Policy"]
    settings.RTCC_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    policy = client.get(reverse("rtcc:where"))["Content-Security-Policy"]
    img_src = next(d for d in policy.split("; ") if d.startswith("img-src"))
    assert img_src.endswith(" https://*.tiles.example.org")


def test_a_box_whose_id_holds_a_comma_is_picked_whole():
    for box_id in ("lot 4, east", "lot 4", "east"):
        make_segment(make_camera(make_box(box_id), 1), 1, now() - timedelta(minutes=40))
    client = as_role(roles.INVESTIGATOR, "investigator")
    response = client.get(reverse("rtcc:where"), {**window(), "boxes": ["lot 4, east"]})
    assert "1 camera with footage" in response.content.decode()
    assert 'id="where-lot 4, east-1"' in response.content.decode()
