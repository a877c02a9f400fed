"""The console's "Done means", run as a newcomer runs it: `deploy/bootstrap.sh rtcc` and
`deploy/bootstrap.sh start` from one checkout on one machine, the box enrolled with the
fingerprint its own manage.py prints, and listed recording with its camera within a minute;
then the technician places the camera on the box (its change form) and the console's map shows
the box there with its camera and facing; then Ctrl-C stops both, leaving nothing behind.

Both run in a copy of the checkout (`start` writes `.env`, `rtcc` writes `.env.rtcc`), on their
embedded data directories (./data, ./data-rtcc). Only what is machine-wide is given, the
documented way: the ports (`CRIMEBOX_BIND`, `CRIMEBOX_RTCC_LEDGER_ADDR`; 8000, 8100 and 27117 are
fixed and another checkout's box or console on this machine may hold them) and the box's live
directory (`CRIMEBOX_LIVE_DIR`: the default /dev/shm/crimebox-live is one per machine, and a
second box's live supervisor on it is refused, which stops that whole `start`).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.deploy.test_start_stop import copy_checkout, processes_in
from tests.helpers import kill_process, start_process, wait_for
from tests.peers.ferretdb import binary, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CONSOLE_STOP_SECONDS = 15  # deploy/rtcc.sh RTCC_STOP_SECONDS
BOX_STOP_SECONDS = 30  # deploy/bootstrap.sh CRIMEBOX_STOP_SECONDS, its default
ENROLLED_TO_LISTED = 60  # "within a minute"
PLACED_TO_MAPPED = 60
# Where the technician says the test pattern stands, and which way it looks.
PLACE = {"latitude": "41.878113", "longitude": "-87.629799", "facing_degrees": "135"}
NEW_PASSWORD = "Placed-pole-7-at-dawn"


def newcomer_env(**settings: str) -> dict[str, str]:
    """A terminal's environment: no crimebox setting but what the newcomer types, the venv
    these tests run in (so nothing is downloaded) and where the test peers' FerretDB is."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k == "CRIMEBOX_PEERS_CACHE"
        or not (k.startswith("CRIMEBOX_") or k == "DJANGO_SETTINGS_MODULE")  # pytest's
    }
    env.update(CRIMEBOX_VENV=sys.prefix, PYTHONUNBUFFERED="1", **settings)
    return env


def bootstrap(checkout: Path, command: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return start_process(
            ["bash", str(checkout / "deploy" / "bootstrap.sh"), command],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            # A shell that finds SIGINT ignored cannot trap it: give it a terminal's default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def manage(checkout: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`./manage.py ...` typed in a second terminal, in the checkout."""
    return subprocess.run(
        [str(checkout / "manage.py"), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError as e:
        return getattr(e, "code", None) == 503  # up, saying it is unhealthy


def fleet(checkout: Path, env: dict[str, str]) -> list[dict]:
    listed = manage(checkout, env, "rtcc_boxes", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)["boxes"]


def recording_with_cameras(boxes: list[dict], box_id: str) -> dict | None:
    """The box, once it is enrolled and recording and every camera it has is recording. A
    test machine's clock may not say it is synchronised: that alone makes it degraded."""
    for box in boxes:
        clock_only = box["state"] == "degraded" and "clock is not synchronised" in box["reason"]
        if (
            box["box"] == box_id
            and box["enrolment"] == "enrolled"
            and (box["state"] == "recording" or clock_only)
            and box["cameras"]
            and all(c["state"] == "recording" for c in box["cameras"])
        ):
            return box
    return None


def log_in(browser: urllib.request.OpenerDirector, base: str, log: Path) -> None:
    """The first administrator signs in with the one-time password `log` shows."""
    password = re.search(r"^    password:  (\S+)$", log.read_text(), re.M)[1]
    page = browser.open(f"{base}/admin/", timeout=10)  # redirected to the login form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())[1]
    form = {"csrfmiddlewaretoken": token, "username": "admin", "password": password}
    browser.open(page.geturl(), urllib.parse.urlencode(form).encode(), timeout=10).read()


def signed_in(browser: urllib.request.OpenerDirector, base: str) -> bool:
    """Signed in: /admin/ does not send the browser to the login form (it may send it to
    change the one-time password)."""
    return "/login/" not in browser.open(f"{base}/admin/", timeout=10).geturl()


class FormFields(HTMLParser):
    """What a browser submits from the page's form `form_id` ("": the one without an id): its
    inputs (a checkbox only when checked, no buttons) and each select's chosen option."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select = form_id, False, ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id", "") == self.form_id
        elif not self.inside or not a.get("name") and tag != "option":
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "image"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.fields[self.select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        self.inside = self.inside and tag != "form"
        self.select = "" if tag == "select" else self.select


def submit(browser: urllib.request.OpenerDirector, url: str, form_id: str, **typed: str) -> str:
    """Open the form at `url`, type `typed` into it, submit it; the address it lands on."""
    parser = FormFields(form_id)
    parser.feed(browser.open(url, timeout=10).read().decode())
    assert "csrfmiddlewaretoken" in parser.fields, f"no form {form_id} at {url}"
    data = urllib.parse.urlencode({**parser.fields, **typed}).encode()
    return browser.open(url, data, timeout=10).geturl()


def change_first_password(browser: urllib.request.OpenerDirector, base: str, log: Path) -> None:
    """The one-time password is changed first: every page sends the browser to that form (the
    box's admin is at /, the console's at /admin/)."""
    password = re.search(r"^    password:  (\S+)$", log.read_text(), re.M)[1]
    form = browser.open(f"{base}/admin/", timeout=10).geturl()
    assert form.endswith("/password_change/"), form
    landed = submit(
        browser,
        form,
        "",  # the admin's password form has no id (its logout form has one)
        old_password=password,
        new_password1=NEW_PASSWORD,
        new_password2=NEW_PASSWORD,
    )
    assert landed.endswith("/password_change/done/"), landed


def place_camera(browser: urllib.request.OpenerDirector, box_url: str) -> None:
    """On the box: Cameras, the test pattern, edit its Location, save."""
    cameras = browser.open(f"{box_url}/cameras/camera/", timeout=10).read().decode()
    (change,) = set(re.findall(r'href="(/cameras/camera/\d+/change/)', cameras))
    landed = submit(browser, f"{box_url}{change}", "camera_form", **PLACE)
    assert landed.endswith("/cameras/camera/"), f"not saved: {landed}"


def on_the_map(browser: urllib.request.OpenerDirector, console_url: str, box_id: str) -> bool:
    """The console's fleet page gives the map the box at its camera, looking PLACE's way."""
    page = browser.open(f"{console_url}/", timeout=10).read().decode()
    found = re.search(r'<script id="fleet-data" type="application/json">(.*?)</script>', page, re.S)
    markers = json.loads(found[1])["markers"] if found else []
    where = (float(PLACE["latitude"]), float(PLACE["longitude"]))
    box = [m for m in markers if m["kind"] == "box" and m["id"] == box_id]
    cameras = [m for m in markers if m["kind"] == "camera" and m["box"] == box_id]
    return (
        [(m["lat"], m["lon"]) for m in box] == [where]
        and [(m["lat"], m["lon"], m["facing"]) for m in cameras]
        == [(*where, int(PLACE["facing_degrees"]))]
        and "Not on the map" not in page
    )


def sign_in_to_both(
    box_url: str, box_log: Path, console_url: str, console_log: Path
) -> urllib.request.OpenerDirector:
    """One browser signed in to both, as the newcomer is: cookies are per host, not per port,
    so each must keep its own (a shared name signs the newcomer out of the other). Each first
    one-time password is then changed, as both ask."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    log_in(browser, box_url, box_log)
    assert signed_in(browser, box_url)
    log_in(browser, console_url, console_log)
    assert signed_in(browser, console_url)
    assert signed_in(browser, box_url), "signing in to the console signed out of the box"
    change_first_password(browser, box_url, box_log)
    change_first_password(browser, console_url, console_log)
    return browser


def place_and_see_it_mapped(
    browser: urllib.request.OpenerDirector, box_url: str, console_url: str, box_id: str
) -> float:
    """The test pattern has no location: the console names the box beside its map. The
    technician places it on the box; how long until the map shows it there."""
    fleet_page = browser.open(f"{console_url}/", timeout=10).read().decode()
    unplaced = re.search(r'<p id="fleet-unplaced"[^>]*>(.*?)</p>', fleet_page, re.S)
    assert unplaced and f">{box_id}</a>" in unplaced[1], fleet_page[-3000:]
    placed_at = time.monotonic()
    place_camera(browser, box_url)
    wait_for(
        lambda: on_the_map(browser, console_url, box_id),
        timeout=PLACED_TO_MAPPED,
        step=0.5,
        what="the box and its camera where the technician placed it, on the console's map",
    )
    return time.monotonic() - placed_at


def stop(proc: subprocess.Popen, bound: float, log: Path) -> float:
    """Ctrl-C in its terminal (SIGINT to its process group); how long it took to exit."""
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(bound + 10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after Ctrl-C:\n{log.read_text()[-3000:]}")
    return time.monotonic() - started


def group_left(proc: subprocess.Popen) -> bool:
    return subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).returncode == 0


def test_newcomer_enrols_a_box_beside_the_console_from_one_checkout(tmp_path):
    if binary() is None:
        pytest.skip("FerretDB is not built: tests/peers/install.sh ferretdb")
    began = time.monotonic()
    checkout = copy_checkout(tmp_path / "checkout")
    box_port, console_port, ledger_port = free_port(), free_port(), free_port()
    console_env = newcomer_env(
        CRIMEBOX_BIND=f"127.0.0.1:{console_port}",
        CRIMEBOX_RTCC_LEDGER_ADDR=f"127.0.0.1:{ledger_port}",
    )
    console_log, box_log = tmp_path / "rtcc.log", tmp_path / "start.log"
    live_dir = Path("/dev/shm") / f"crimebox-live-{tmp_path.name}-{os.getpid()}"
    console = bootstrap(checkout, "rtcc", console_env, console_log)
    box = None
    try:
        # The console prints the line that makes a box replicate into its local ledger.
        line = wait_for(
            lambda: re.search(
                r"^    CRIMEBOX_RTCC_URI=(\S+) deploy/bootstrap.sh start$",
                console_log.read_text(),
                re.M,
            ),
            timeout=90,
            what=f"the console's start line in {console_log}",
        )
        box_env = newcomer_env(
            CRIMEBOX_RTCC_URI=line[1],
            CRIMEBOX_BIND=f"127.0.0.1:{box_port}",
            CRIMEBOX_LIVE_DIR=str(live_dir),
        )
        box = bootstrap(checkout, "start", box_env, box_log)
        wait_for(
            lambda: answers(f"http://127.0.0.1:{console_port}/health"), timeout=60, what="console"
        )
        wait_for(lambda: answers(f"http://127.0.0.1:{box_port}/health"), timeout=90, what="the box")

        # Second terminal, box side: what the technician reads out (no setting typed).
        terminal = newcomer_env()
        status = manage(checkout, terminal, "sync_status")
        assert status.returncode == 0, status.stderr
        found = re.search(r"^box: (\S+)  key fingerprint: ([0-9a-f]{64})$", status.stdout, re.M)
        assert found, status.stdout
        box_id, fingerprint = found[1], found[2]
        assert f"replication: to {line[1]}" in status.stdout

        # Console side: the box is waiting for enrolment once it has sent its key.
        console_terminal = {**terminal, "DJANGO_SETTINGS_MODULE": "rtcc.settings"}
        wait_for(
            lambda: any(b["box"] == box_id for b in fleet(checkout, console_terminal)),
            timeout=90,
            step=1,
            what="the box pending on the console",
        )
        enrolled = manage(checkout, console_terminal, "rtcc_enrol", box_id, fingerprint)
        assert enrolled.returncode == 0, enrolled.stderr
        enrolled_at = time.monotonic()
        shown = wait_for(
            lambda: recording_with_cameras(fleet(checkout, console_terminal), box_id),
            timeout=ENROLLED_TO_LISTED,
            step=1,
            what="the box recording with its camera on the console",
        )
        listed_after = time.monotonic() - enrolled_at
        assert [c["camera"] for c in shown["cameras"]] == ["Test pattern"]
        # The console's commands in a second terminal read the local ledger this run started.
        verified = manage(checkout, console_terminal, "rtcc_verify", "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["ok"]

        box_url, console_url = f"http://127.0.0.1:{box_port}", f"http://127.0.0.1:{console_port}"
        browser = sign_in_to_both(box_url, box_log, console_url, console_log)
        mapped_after = place_and_see_it_mapped(browser, box_url, console_url, box_id)

        # Nothing shared: each its own data directory and settings file.
        assert (checkout / "data" / "crimebox.sqlite3").is_file()
        assert (checkout / "data-rtcc" / "rtcc.sqlite3").is_file()
        assert f"CRIMEBOX_BIND=127.0.0.1:{box_port}" in (checkout / ".env").read_text()
        assert f"CRIMEBOX_BIND=127.0.0.1:{console_port}" in (checkout / ".env.rtcc").read_text()

        box_stopped = stop(box, BOX_STOP_SECONDS, box_log)
        console_stopped = stop(console, CONSOLE_STOP_SECONDS, console_log)
        assert box_stopped < BOX_STOP_SECONDS, box_log.read_text()[-3000:]
        assert console_stopped < CONSOLE_STOP_SECONDS, console_log.read_text()[-3000:]
        assert "did not stop" not in box_log.read_text()  # nothing had to be killed
        assert not (checkout / "data-rtcc" / "ledger-uri").exists()  # its ledger is gone
        wait_for(
            lambda: not (group_left(box) or group_left(console) or processes_in(checkout)),
            timeout=5,
            what="no process left",
        )
        print(
            f"listed {listed_after:.1f} s after enrolment, on the map {mapped_after:.1f} s after "
            f"the camera was placed; box stopped in {box_stopped:.1f} s, "
            f"console in {console_stopped:.1f} s; {time.monotonic() - began:.0f} s in all"
        )
    finally:
        for proc in (box, console):
            if proc is not None:
                kill_process(proc)
        for pid in processes_in(checkout):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(live_dir, ignore_errors=True)
