"""The console's pages answer from its own tables, in a bounded number of queries, say how fresh
those tables are, and turn bad input into a 400 with a message (never a 500)."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from rtcc import roles
from rtcc.models import Alert, Box, Camera
from rtcc.pages.fleet import fleet_policy, tile_origin
from rtcc.pages.where import window_cameras
from tests.rtcc.pagekit import (  # noqa: F401
    console_site,
    ingested,
    make_beat,
    make_box,
    make_camera,
    make_gap,
    make_segment,
    make_user,
    now,
)

pytestmark = pytest.mark.usefixtures("console_site")


def as_role(role: str) -> Client:
    name = role.split()[-1]
    user = User.objects.filter(username=name).first() or make_user(name, role)
    client = Client()
    client.force_login(user)
    return client


def fleet_of(size: int) -> list[Box]:
    boxes = []
    for i in range(size):
        state = [Box.State.RECORDING, Box.State.DEGRADED, Box.State.DARK][i % 3]
        box = make_box(
            f"box-{i:03}", state=state, health={"disk_free": (i + 1) * 10**9, "backlog": 100 - i}
        )
        for c in range(2):
            make_camera(box, c + 1, lat=f"41.{i:02}{c}000", lon=f"-87.{i:02}{c}000")
        boxes.append(box)
    return boxes


def markers(response) -> list[dict]:
    found = re.search(
        rb'<script id="fleet-data" type="application/json">(.*?)</script>', response.content, re.S
    )
    return json.loads(found[1])["markers"]


@pytest.mark.django_db
def test_fleet_shows_enrolled_boxes_and_their_cameras_by_state(django_assert_max_num_queries):
    fleet_of(3)
    make_box("waiting", enrolment=Box.Enrolment.PENDING)
    ingested(now())
    client = as_role(roles.OPERATOR)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("rtcc:fleet"))
    assert response.status_code == 200
    found = markers(response)
    assert {m["id"] for m in found if m["kind"] == "box"} == {"box-000", "box-001", "box-002"}
    assert sorted(m["state"] for m in found if m["kind"] == "box") == [
        "dark",
        "degraded",
        "recording",
    ]
    assert len([m for m in found if m["kind"] == "camera"]) == 6
    assert b"box-waiting" not in response.content
    assert b"1 box waiting for enrolment" in response.content


@pytest.mark.django_db
def test_fleet_queries_do_not_grow_with_the_fleet():
    client = as_role(roles.OPERATOR)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("rtcc:fleet")).status_code == 200
        return len(ctx.captured_queries)

    fleet_of(2)
    queries()  # the first request of a session reads more (its user, its audit entry)
    few = queries()
    for i in range(2, 40):  # a box without cameras, one with three, alerts: no query per row
        box = make_box(f"more-{i:03}", state=Box.State.DEGRADED)
        for c in range(i % 4):
            make_camera(box, c + 1, lat="41.9", lon="-87.6")
        Alert.objects.create(kind=Alert.Kind.DISK, box=box, key=f"disk:{i}", message="low")
    assert queries() == few <= 12


@pytest.mark.django_db
def test_fleet_list_sorts_by_state_contact_backlog_and_free_space():
    fleet_of(4)
    client = as_role(roles.OPERATOR)

    def order(sort: str) -> list[str]:
        html = client.get(reverse("rtcc:fleet"), {"sort": sort}).content.decode()
        return re.findall(r'<tr id="box-(box-\d+)"', html)

    assert order("state")[:2] == ["box-002", "box-001"]  # dark, degraded first
    assert order("free") == ["box-000", "box-001", "box-002", "box-003"]
    assert order("-free") == ["box-003", "box-002", "box-001", "box-000"]
    assert order("backlog") == ["box-003", "box-002", "box-001", "box-000"]
    assert order("nonsense") == order("state")  # an unknown sort is the default, never a 500


@pytest.mark.django_db
def test_fleet_csp_adds_only_the_configured_tile_server(settings):
    fleet_of(1)
    client = as_role(roles.OPERATOR)
    base = client.get(reverse("rtcc:fleet"))["Content-Security-Policy"]
    assert "default-src 'self'" in base and "http" not in base
    settings.RTCC_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    policy = client.get(reverse("rtcc:fleet"))["Content-Security-Policy"]
    img_src = next(d for d in policy.split("; ") if d.startswith("img-src"))
    assert img_src.startswith("img-src 'self'") and img_src.endswith(" https://*.tiles.example.org")
    assert policy.count("tiles.example.org") == 1
    # Anything but a plain host never reaches the policy.
    assert tile_origin("https://x.org; script-src *") == ""
    assert fleet_policy(base, "javascript:alert(1)") == base


@pytest.mark.django_db
def test_box_page_cameras_coverage_charts_and_links(django_assert_max_num_queries):
    t = now()
    box = make_box(
        "box-7",
        zerotier_address="a1b2c3d4e5",
        software="crimebox 1.4",
        health={"zerotier_ips": ["not an ip", "10.147.17.5"]},
    )
    cam = make_camera(box, 1, model="DS-2CD", firmware_version="V5.7", serial_number="SN123")
    make_segment(cam, 1, t - timedelta(hours=2))
    make_segment(cam, 2, t - timedelta(hours=1, minutes=45), verification="broken")
    make_gap(cam, 1, t - timedelta(hours=1, minutes=30), t - timedelta(hours=1), "power_loss")
    for i in range(120):
        make_beat(box, t - timedelta(minutes=i * 10), i, throttled=i == 5, clock_synced=i != 7)
    Alert.objects.create(kind="disk", box=box, key="disk:box-7", message="Disk below its floor")
    ingested(t)
    client = as_role(roles.OPERATOR)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("rtcc:box", args=["box-7"]))
    html = response.content.decode()
    for text in ("DS-2CD", "V5.7", "SN123", "crimebox 1.4", "ab" * 32, "Disk below its floor"):
        assert text in html
    assert 'class="seg-verified"' in html and 'class="seg-broken"' in html
    assert "power loss" in html  # the gap's cause in its tooltip
    assert html.count('class="rtcc-chart"') == 7 and '<polyline points="' in html
    assert 'class="flag"' in html
    assert (
        'href="http://10.147.17.5:8000/"' in html and 'href="http://10.147.17.5:8000/live/"' in html
    )


@pytest.mark.django_db
def test_box_page_of_an_unknown_box_is_a_404():
    assert as_role(roles.OPERATOR).get(reverse("rtcc:box", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_where_and_when_lists_cameras_hashes_and_verification_and_is_audited(
    django_assert_max_num_queries,
):
    t = now().replace(minute=0, second=0)
    for i in range(3):
        box = make_box(f"box-{i}")
        cam = make_camera(box, 1)
        make_segment(
            cam,
            10,
            t - timedelta(minutes=50),
            sha256=f"{i:x}" * 64,
            verification="unlinked" if i == 2 else "verified",
        )
        make_segment(cam, 11, t - timedelta(minutes=35))
    outside = make_camera(make_box("box-far"), 1)
    make_segment(outside, 1, t - timedelta(hours=5))
    revoked = make_camera(make_box("box-revoked", enrolment=Box.Enrolment.REVOKED), 1)
    make_segment(revoked, 1, t - timedelta(minutes=50), sha256="e" * 64)
    client = as_role(roles.INVESTIGATOR)
    window = {"start": f"{t - timedelta(hours=1):%Y-%m-%dT%H:%M}", "end": f"{t:%Y-%m-%dT%H:%M}"}
    # About ten, plus the audit entry (in this test process the box's sync app adds an outbox row),
    # plus the boxes and cameras of the map to pick boxes on.
    with django_assert_max_num_queries(25):
        response = client.get(reverse("rtcc:where"), window)
    html = response.content.decode()
    assert "3 cameras with footage" in html
    assert "1" * 64 in html and "box-far" not in html.split('id="where-summary"')[1]
    assert "box-revoked" not in html.split('id="where-summary"')[1]
    assert "previous link not seen yet" in html
    entry = AuditEvent.objects.filter(action="view", target__startswith="RTCC where").get()
    assert entry.detail["cameras"] == 3 and entry.username == "investigator"
    only = client.get(reverse("rtcc:where"), {**window, "boxes": "box-1, box-2"})
    assert "2 cameras with footage" in only.content.decode()


@pytest.mark.django_db
def test_which_box_recorded_a_sha256():
    cam = make_camera(make_box("box-9"), 3, name="Corner")
    make_segment(cam, 42, now() - timedelta(hours=3), sha256="c" * 64)
    client = as_role(roles.INVESTIGATOR)
    html = client.get(reverse("rtcc:where"), {"sha256": "C" * 64}).content.decode()
    assert "box-9" in html and "Corner" in html and ">42<" in html
    assert AuditEvent.objects.filter(target=f"RTCC which box recorded sha256 {'c' * 64}").exists()
    assert (
        "No enrolled box"
        in client.get(reverse("rtcc:where"), {"sha256": "d" * 64}).content.decode()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-12-04T10:00", "end": "2026-12-04T09:00"},
        {"start": "2026-12-01T10:00", "end": "2026-12-04T09:00"},
        {"start": "yesterday", "end": "2026-12-04T09:00"},
        {"start": "2026-12-04T10:00"},
        {"sha256": "xyz"},
        {"sha256": "g" * 64},
    ],
)
def test_where_and_when_bad_input_is_a_400_with_a_message(query):
    response = as_role(roles.INVESTIGATOR).get(reverse("rtcc:where"), query)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not AuditEvent.objects.filter(action="view").exists()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="an SQLite query plan")
@pytest.mark.parametrize(
    ("box_ids", "index"),
    [([], "COVERING INDEX rtcc_segment_window"), (["box-1"], "INDEX rtcc_segment_camera_start")],
)
def test_where_and_when_reads_only_the_window_from_its_indexes(box_ids, index):
    """At 500 boxes x 30 days (5.8 M rows, bench/rtcc_pages.py): all boxes, the cameras come
    from the covering index alone (the page took 77 ms reading the window's scattered rows,
    now 44); named boxes, each camera's window (through the box foreign key SQLite read the
    boxes' whole history: 613 ms with 250 boxes named, now 55)."""
    t = now()
    make_segment(make_camera(make_box("box-1"), 1), 1, t - timedelta(minutes=40))
    make_segment(make_camera(make_box("box-2"), 1), 1, t - timedelta(minutes=40))
    with CaptureQueriesContext(connection) as ctx:
        assert len(window_cameras(t - timedelta(hours=1), t, box_ids)) == 2 - len(box_ids)
    (query,) = ctx.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = [row[-1] for row in cursor.fetchall()]
    segments = [step for step in plan if "rtcc_segmentrecord" in step]
    assert segments and all(f"USING {index} (" in step for step in segments), plan


@pytest.mark.django_db
def test_where_and_when_pages_through_cameras():
    t = now().replace(minute=0, second=0)
    for i in range(30):
        make_segment(make_camera(make_box(f"box-{i:02}"), 1), 1, t - timedelta(minutes=40))
    client = as_role(roles.INVESTIGATOR)
    window = {"start": f"{t - timedelta(hours=1):%Y-%m-%dT%H:%M}", "end": f"{t:%Y-%m-%dT%H:%M}"}
    first = client.get(reverse("rtcc:where"), window).content.decode()
    assert first.count('class="where-camera"') == 25 and 'id="where-next"' in first
    second = client.get(reverse("rtcc:where"), {**window, "page": 2}).content.decode()
    assert second.count('class="where-camera"') == 5


@pytest.mark.django_db
def test_alerts_active_and_resolved():
    box = make_box("box-1")
    Alert.objects.create(kind="silent", box=box, key="a", message="Box silent for 12 minutes")
    Alert.objects.create(kind="disk", box=box, key="b", message="Disk low", resolved_at=now())
    client = as_role(roles.OPERATOR)
    active = client.get(reverse("rtcc:alerts")).content.decode()
    assert "Box silent for 12 minutes" in active and "Disk low" not in active
    resolved = client.get(reverse("rtcc:alerts"), {"show": "resolved"}).content.decode()
    assert "Disk low" in resolved and "Box silent" not in resolved
    assert client.get(reverse("rtcc:alerts"), {"show": "x", "page": "zz"}).status_code == 200


@pytest.mark.django_db
def test_pages_say_how_stale_the_tables_are():
    make_camera(make_box("box-1"), 1)
    client = as_role(roles.OPERATOR)
    assert b"has not completed a pass yet" in client.get(reverse("rtcc:fleet")).content
    ingested(now() - timedelta(minutes=42), error="MongoDB unreachable: connection refused")
    for name, args in (("rtcc:fleet", []), ("rtcc:box", ["box-1"]), ("rtcc:alerts", [])):
        html = client.get(reverse(name, args=args)).content.decode()
        assert "42 min ago" in html and "may be out of date" in html, name
        assert "MongoDB unreachable: connection refused" in html, name
    ingested(now())
    html = client.get(reverse("rtcc:fleet")).content.decode()
    assert "0 min ago" in html and "out of date" not in html and "unreachable" not in html


@pytest.mark.django_db
def test_fleet_markers_carry_each_cameras_facing():
    box = make_box("box-1")
    make_camera(box, 1, facing_degrees=90)
    make_camera(box, 2, facing_degrees=0)
    make_camera(box, 3)  # not known: drawn as a dot only (rtcc/static/rtcc/map.js)
    found = markers(as_role(roles.OPERATOR).get(reverse("rtcc:fleet")))
    assert {m["id"]: m.get("facing") for m in found if m["kind"] == "camera"} == {
        "box-1/1": 90,
        "box-1/2": 0,
        "box-1/3": None,
    }


@pytest.mark.django_db
def test_camera_without_coordinates_is_listed_but_not_placed():
    box = make_box("box-1")
    make_camera(box, 1, lat=None)
    response = as_role(roles.OPERATOR).get(reverse("rtcc:fleet"))
    assert markers(response) == [] and b'id="box-box-1"' in response.content
    assert Camera.objects.count() == 1


@pytest.mark.django_db
def test_boxes_with_no_placed_camera_are_named_beside_the_map_until_one_is_placed():
    placed, bare = make_box("box-1"), make_box("box-2")
    make_camera(placed, 1)
    make_camera(bare, 1, lat=None)
    make_camera(bare, 2, lat=None)
    make_box("box-3")  # no camera reported yet: not on the map either
    client = as_role(roles.OPERATOR)
    html = client.get(reverse("rtcc:fleet")).content.decode()
    note = re.search(r'<p id="fleet-unplaced"[^>]*>(.*?)</p>', html, re.S)[1]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', note) == [
        (reverse("rtcc:box", args=["box-2"]), "box-2"),
        (reverse("rtcc:box", args=["box-3"]), "box-3"),
    ]
    assert "no camera of theirs has a location" in note and "Cameras → edit → Location" in note
    box_page = client.get(reverse("rtcc:box", args=["box-2"])).content.decode()
    assert box_page.count("Not on the map: it has no location") == 2
    assert "Not on the map" not in client.get(reverse("rtcc:box", args=["box-1"])).content.decode()

    Camera.objects.filter(box=bare, camera_id=2).update(
        latitude=Decimal("41.9"), longitude=Decimal("-87.6")
    )
    Camera.objects.filter(box__box_id="box-3").delete()
    make_camera(Box.objects.get(box_id="box-3"), 1)
    html = client.get(reverse("rtcc:fleet")).content.decode()
    assert 'id="fleet-unplaced"' not in html and "Not on the map" not in html
    box_page = client.get(reverse("rtcc:box", args=["box-2"])).content.decode()
    assert box_page.count("Not on the map: it has no location") == 1  # camera 1 still


@pytest.mark.django_db
def test_enrolment_approves_and_revokes_through_the_console_functions():
    from rtcc.models import BoxKey

    box = make_box("box-new", enrolment=Box.Enrolment.PENDING, fingerprint="")
    BoxKey.objects.create(box=box, fingerprint="f" * 64, public_key_pem="PEM", doc_id="box-new")
    client = as_role(roles.ADMINISTRATOR)
    page = client.get(reverse("rtcc:enrolment")).content.decode()
    assert 'id="pending-box-new"' in page and "f" * 64 in page
    approved = client.post(
        reverse("rtcc:enrolment"), {"action": "approve", "box": "box-new", "fingerprint": "f" * 64}
    )
    assert approved.status_code == 302
    box.refresh_from_db()
    assert box.enrolment == Box.Enrolment.ENROLLED and box.enrolled_by == "administrator"
    entry = AuditEvent.objects.get(action="admin_change", target="box box-new")
    assert entry.username == "administrator" and entry.detail["what"] == "enrolled"
    client.post(
        reverse("rtcc:enrolment"), {"action": "revoke", "box": "box-new", "fingerprint": "f" * 64}
    )
    box.refresh_from_db()
    assert box.enrolment == Box.Enrolment.REVOKED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "post",
    [
        {"action": "approve", "box": "box-new", "fingerprint": "0" * 64},
        {"action": "approve", "box": "nobody", "fingerprint": "f" * 64},
        {"action": "delete", "box": "box-new", "fingerprint": "f" * 64},
        {},
    ],
)
def test_enrolment_refuses_what_it_cannot_do_with_a_message(post):
    make_box("box-new", enrolment=Box.Enrolment.PENDING, fingerprint="")
    client = as_role(roles.ADMINISTRATOR)
    response = client.post(reverse("rtcc:enrolment"), post, follow=True)
    assert response.status_code == 200 and b'class="error"' in response.content
    assert Box.objects.get(box_id="box-new").enrolment == Box.Enrolment.PENDING
