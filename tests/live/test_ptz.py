"""PTZ from the live player against a real ONVIF camera (ipycam): who may steer, one
controller at a time, rate limits, the deadman, and every move on the record."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from cameras.models import Camera
from cameras.services import add_onvif_camera
from recordings.evidence.manifest import audit_entries
from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.cameras.test_ptz_onvif import position
from tests.helpers import logged_in, wait_for
from tests.recordings.conftest import InlineExecutor

pytestmark = pytest.mark.django_db(transaction=True)  # the deadman thread reads the row


@pytest.fixture
def ptz_camera(onvif_camera):
    with onvif_camera.netns():
        camera = add_onvif_camera(
            "Pole 7", onvif_camera.host, onvif_camera.port, onvif_camera.username,
            onvif_camera.password,
        )  # fmt: skip
        yield camera


def post(client: Client, camera: Camera, action: str, value: str = ""):
    Camera.objects.filter(pk=camera.pk).update(ptz_last_command_at=None)  # no rate limit here
    return client.post(
        f"/live/{camera.pk}/ptz/{action}", json.dumps({"value": value}),
        content_type="application/json",
    )  # fmt: skip


def test_an_operator_steers_and_every_move_is_on_the_record(ptz_camera, onvif_camera):
    assert ptz_camera.can_steer()
    operator = logged_in("Operator", "olga")
    page = operator.get(f"/live/{ptz_camera.pk}/").content.decode()
    assert 'class="ptz-move"' in page and "live/ptz.js" in page and "ptz-save" not in page
    assert post(operator, ptz_camera, "home").json()["holder"] == "olga"
    _, home = position(onvif_camera, "h")
    assert post(operator, ptz_camera, "move", "right").status_code == 200
    assert post(operator, ptz_camera, "keep").status_code == 200
    wait_for(lambda: position(onvif_camera, "p")[1] != home, timeout=10, what="a pan")
    assert post(operator, ptz_camera, "stop").status_code == 200
    token, there = position(onvif_camera, "there")
    presets = operator.get(f"/live/{ptz_camera.pk}/ptz/presets.json").json()["presets"]
    assert token in [p["token"] for p in presets]
    post(operator, ptz_camera, "home")
    assert post(operator, ptz_camera, "preset", token).json()["position"] == "preset 'there'"
    wait_for(lambda: position(onvif_camera, "b")[1] == there, timeout=10, what="the preset")
    assert post(operator, ptz_camera, "release").json()["holder"] == ""
    entries = AuditEvent.objects.filter(action=AuditEvent.Action.PTZ, camera_id=ptz_camera.pk)
    steps = [
        (e.username, e.detail["command"], e.detail["to"]) for e in entries.order_by("sequence")
    ]
    assert steps == [
        ("olga", "home", "home position"),
        ("olga", "move", "moved by hand (right)"),
        ("olga", "home", "home position"),
        ("olga", "preset", "preset 'there'"),
        ("olga", "release", "preset 'there'"),
    ]
    assert entries[1].detail["from"] == "home position"
    # listed in the custody entries of every package of this camera
    assert [e["action"] for e in audit_entries([], [ptz_camera])].count("ptz") == 5


def test_an_investigator_watches_without_steering(ptz_camera):
    investigator = logged_in("Investigator", "ines")
    page = investigator.get(f"/live/{ptz_camera.pk}/")
    assert page.status_code == 200 and "ptz-move" not in page.content.decode()
    for action in ("move", "stop", "home", "preset", "save", "release"):
        assert post(investigator, ptz_camera, action, "right").status_code == 403
    assert investigator.get(f"/live/{ptz_camera.pk}/ptz/presets.json").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PTZ).exists()


def test_one_controller_at_a_time_and_control_lapses(ptz_camera):
    olga, tom = logged_in("Operator", "olga"), logged_in("Field technician", "tom")
    assert post(olga, ptz_camera, "home").status_code == 200
    refused = post(tom, ptz_camera, "home")
    assert refused.status_code == 409 and "olga is steering" in refused.json()["message"]
    Camera.objects.filter(pk=ptz_camera.pk).update(
        ptz_held_until=timezone.now() - timedelta(seconds=1)
    )
    assert post(tom, ptz_camera, "home").json()["holder"] == "tom"


def test_commands_are_rate_limited(ptz_camera):
    olga = logged_in("Operator", "olga")
    assert post(olga, ptz_camera, "home").status_code == 200
    fast = olga.post(f"/live/{ptz_camera.pk}/ptz/keep", "{}", content_type="application/json")
    assert fast.status_code == 429


def test_saving_a_preset_is_a_technicians_action(ptz_camera):
    assert post(logged_in("Operator", "olga"), ptz_camera, "save", "Gate").status_code == 403
    tom = logged_in("Field technician", "tom")
    assert "ptz-save" in tom.get(f"/live/{ptz_camera.pk}/").content.decode()
    assert post(tom, ptz_camera, "save", "Gate").json()["position"] == "saved as preset 'Gate'"


def test_a_move_without_keep_alive_is_stopped_by_the_box(ptz_camera, onvif_camera):
    olga = logged_in("Operator", "olga")
    assert post(olga, ptz_camera, "move", "left").status_code == 200
    # no keep-alive: the page died. The box stops the camera within MOVE_SECONDS.
    wait_for(
        lambda: Camera.objects.get(pk=ptz_camera.pk).ptz_move_until is None,
        timeout=10, what="the deadman's stop",
    )  # fmt: skip
    _, first = position(onvif_camera, "a")
    wait_for(lambda: position(onvif_camera, "b")[1] == first, timeout=5, what="a still camera")


def test_bad_commands_are_clear_errors(ptz_camera):
    olga = logged_in("Operator", "olga")
    assert post(olga, ptz_camera, "spin").status_code == 400
    assert post(olga, ptz_camera, "move", "sideways").status_code == 400
    assert post(olga, ptz_camera, "preset", "nope").status_code == 404
    bad = olga.post(f"/live/{ptz_camera.pk}/ptz/home", "{", content_type="application/json")
    assert bad.status_code == 400
    assert olga.get(f"/live/{ptz_camera.pk}/ptz/home").status_code == 405


def test_a_clip_over_the_minute_lists_the_moves(ptz_camera, tmp_path):
    from cameras.ptz import manifest_moves
    from recordings.evidence.manifest import build_manifest  # noqa: F401  (the manifest's key)

    olga = logged_in("Operator", "olga")
    post(olga, ptz_camera, "home")
    start = timezone.now()
    post(olga, ptz_camera, "move", "up")
    post(olga, ptz_camera, "stop")
    end = timezone.now()
    moves = manifest_moves([ptz_camera], start, end)
    assert [(m["command"], m["to"]) for m in moves] == [
        ("home", "home position"),  # where it pointed when the window began
        ("move", "moved by hand (up)"),
    ]
    assert moves[1]["statement"].startswith("Pole 7 was moved at ")
    assert "by olga: from home position to moved by hand (up)." in moves[1]["statement"]


def test_a_stop_is_never_rate_limited(ptz_camera):
    olga = logged_in("Operator", "olga")
    assert post(olga, ptz_camera, "move", "left").status_code == 200
    keep = olga.post(f"/live/{ptz_camera.pk}/ptz/keep", "{}", content_type="application/json")
    assert keep.status_code in (200, 429)
    # a stop right behind a keep-alive (the finger lifted as the timer fired)
    stop = olga.post(f"/live/{ptz_camera.pk}/ptz/stop", "{}", content_type="application/json")
    assert stop.status_code == 200
    assert Camera.objects.get(pk=ptz_camera.pk).ptz_move_until is None


def test_a_camera_without_ptz_has_no_controls(db):
    from tests.factories import make_camera

    camera = make_camera("Fixed")
    olga = logged_in("Operator", "olga")
    assert "ptz-move" not in olga.get(f"/live/{camera.pk}/").content.decode()
    assert post(olga, camera, "move", "left").status_code == 404
    assert olga.get(f"/live/{camera.pk}/ptz/presets.json").status_code == 404


def test_a_camera_that_never_answers_stop_is_a_clear_error(db, silent_port, settings):
    settings.PROBE_TIMEOUT_SECONDS = 1
    camera = Camera.objects.create(
        name="Mute", source=Camera.Source.ONVIF, host="127.0.0.1", onvif_port=silent_port,
        profiles=[{"token": "P", "ptz": True}], main_profile_token="P",
        ptz_move_until=timezone.now(),
    )  # fmt: skip
    answer = post(logged_in("Operator", "olga"), camera, "stop")
    assert answer.status_code == 502 and "did not answer within 1 s" in answer.json()["message"]
    assert Camera.objects.get(pk=camera.pk).ptz_move_until is None  # the deadman stops trying


def test_moves_are_markers_on_the_footage_timeline(db):
    from django.urls import reverse

    from audit.log import record
    from tests.factories import make_camera

    camera = make_camera("Pole 7")
    at = timezone.localtime(timezone.now()).replace(hour=2, minute=10, second=5, microsecond=0)
    record(
        AuditEvent.Action.PTZ, username="olga", camera=camera, target=f"camera {camera.pk}",
        detail={"command": "preset", "from": "home position", "to": "preset 'Gate'"}, at=at,
    )  # fmt: skip
    investigator = logged_in("Investigator", "ines")
    page = investigator.get(reverse("recordings:day", args=[camera.pk, f"{at:%Y-%m-%d}"]))
    assert (
        'class="move"' in page.content.decode()
        and "Camera moved at 02:10:05 by olga: from home position to preset &#x27;Gate&#x27;"
        in page.content.decode()
    )


STEERING = [
    ("home", ""), ("move", "right"), ("keep", ""), ("stop", ""),
    ("move", "left"), ("stop", ""), ("home", ""), ("release", ""),
]  # fmt: skip


@pytest.mark.timeout(120)
def test_steering_while_recording_leaves_the_recording_untouched(ptz_camera, settings):
    # Steering writes only the PTZ hold columns: the recorder must see no settings change,
    # keep its one FFmpeg run, and leave no hole in the footage while the camera turns.
    settings.SEGMENT_SECONDS, settings.STALL_SECONDS, settings.RTSP_TIMEOUT_SECONDS = 2, 6, 5
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        wait_for(
            lambda: len(chained(ptz_camera)) >= 1, tick=supervisor.tick, timeout=60,
            what="a first recorded segment",
        )  # fmt: skip
        run = supervisor.runs[ptz_camera.pk]
        operator = logged_in("Operator", "olga")
        for action, value in STEERING:
            assert post(operator, ptz_camera, action, value).status_code == 200, action
            supervisor.tick()
        steered = len(chained(ptz_camera))
        wait_for(
            lambda: len(chained(ptz_camera)) >= steered + 2, tick=supervisor.tick, timeout=30,
            what="segments recorded after the steering",
        )  # fmt: skip
        assert supervisor.runs.get(ptz_camera.pk) is run and run.proc.poll() is None
    finally:
        supervisor.shutdown(grace=5)
    footage = chained(ptz_camera)
    for a, b in zip(footage, footage[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 0.2, (a, b)
    assert not Gap.objects.filter(camera=ptz_camera, start__lt=footage[-1].end).exists()


def chained(camera: Camera) -> list[Segment]:
    return list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))
