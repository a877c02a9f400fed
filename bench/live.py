#!/usr/bin/env python
"""Live view benchmark: one camera (GStreamer RTSP, 1280x720 main, 640x360 substream, 1 s
keyframes) watched by N viewers through gunicorn, with the real `live` supervisor.

    .venv/bin/python bench/live.py [--viewers 3] [--seconds 60] [--sub-kbps 500] [--no-browser]

Prints the live FFmpeg's CPU as a fraction of one core (and the recorder's, recording the main
stream meanwhile), bytes served per viewer per second against the substream's bitrate (the
ratio), and the delay: from a segment's first frame (its close time minus its duration) to
its first being served, plus the player's buffer as headless Chromium with hls.js reports it
(live edge minus current time). Everything runs on loopback in a temp data dir.
"""

import argparse
import http.cookiejar
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def camera(sub_kbps: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(ROOT / "tests/peers/rtsp_server.py"), "--port", str(port),
         "--size", "1280x720", "--bitrate", "2000", "--fps", "25", "--gop", "25",
         "--sub-path", "/sub", "--sub-size", "640x360", "--sub-bitrate", str(sub_kbps)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().startswith("READY")
    return proc, f"rtsp://127.0.0.1:{port}"


class Viewer(threading.Thread):
    """Fetches like hls.js: the playlist every second, each new segment once."""

    def __init__(self, base: str, cookie: str, folder: Path):
        super().__init__(daemon=True)
        self.base, self.folder = base, folder
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.opener.addheaders = [("Cookie", f"sessionid={cookie}")]
        self.bytes = 0
        self.media = (0, 0.0)  # segment bytes, media seconds
        self.delays: list[float] = []
        self.stop = False

    def get(self, name: str) -> bytes:
        with self.opener.open(self.base + name, timeout=10) as r:
            body = r.read()
        self.bytes += len(body)
        return body

    def run(self) -> None:
        from live.status import parse_playlist

        seen: set[str] = set()
        self.get("init.mp4")
        while not self.stop:
            for name, duration in parse_playlist(self.get("index.m3u8").decode()):
                if name in seen:
                    continue
                seen.add(name)
                try:
                    closed = (self.folder / name).stat().st_mtime
                    size = len(self.get(name))
                except (OSError, urllib.error.HTTPError):
                    continue  # rotated out already
                self.media = (self.media[0] + size, self.media[1] + duration)
                if len(seen) > 6:  # the first playlist's backlog is not a live delay
                    self.delays.append(time.time() - (closed - duration))
            time.sleep(1.0)


def session_cookie(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


class Watcher(threading.Thread):
    """Wall-clock times of the box's side of a cold start, read from the live directory every
    10 ms: the demand file, each state the supervisor publishes, FFmpeg's first files."""

    def __init__(self, live: Path, slug: str):
        super().__init__(daemon=True)
        self.files = {"want": live / f"{slug}.want", "init.mp4": live / slug / "init.mp4",
                      "seg000000.m4s": live / slug / "seg000000.m4s",
                      "index.m3u8": live / slug / "index.m3u8"}  # fmt: skip
        self.state = live / f"{slug}.json"
        self.seen: dict[str, float] = {}
        self.stop = False

    def run(self) -> None:
        import json

        while not self.stop:
            for name, path in self.files.items():
                if name not in self.seen and path.exists():
                    self.seen[name] = path.stat().st_mtime
            try:
                data = json.loads(self.state.read_text())
                self.seen.setdefault(data["state"], data["since"])
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)


# In the page: when the first frame is presented and when video time first advances.
FIRST_FRAME = """var v = document.getElementById('live-video'); window.benchT = {};
if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(function (now) {
  window.benchT.frame = performance.timeOrigin + now; });
v.addEventListener('timeupdate', function () {
  if (v.currentTime > 0 && !window.benchT.advancing)
    window.benchT.advancing = performance.timeOrigin + performance.now(); });"""
RESOURCES = """return [performance.timeOrigin,
  performance.getEntriesByType('navigation')[0].responseEnd,
  performance.getEntriesByType('resource').map(function (e) {
    return [e.name.split('/').pop(), performance.timeOrigin + e.startTime,
            performance.timeOrigin + e.responseEnd]; }), window.benchT];"""


def timeline(origin: float, page: float, resources: list, marks: dict, box: dict) -> list:
    """(step, seconds after the page was opened) in the order a cold start goes through."""

    def first(prefix: str, end: bool = True) -> float | None:
        hits = [r[2 if end else 1] for r in resources if r[0].startswith(prefix)]
        return min(hits) / 1000 if hits else None

    got = [t for t in (first("init.mp4"), first("seg")) if t]
    frame, advancing = (marks or {}).get("frame"), (marks or {}).get("advancing")
    steps = [("page loaded (its view touched the demand file)", page / 1000 + origin / 1000),
             ("demand file touched", box.get("want")),
             ("supervisor started FFmpeg (\"starting\")", box.get("starting")),
             ("FFmpeg wrote init.mp4 (connected, probed)", box.get("init.mp4")),
             ("first segment closed", box.get("seg000000.m4s")),
             ("playlist written", box.get("index.m3u8")),
             ("supervisor published \"playing\"", box.get("playing")),
             ("player asked for the playlist", first("index.m3u8", end=False)),
             ("player had init + first segment", max(got, default=None)),
             ("first frame presented", frame and frame / 1000),
             ("video time advancing", advancing and advancing / 1000)]  # fmt: skip
    return [(name, at - origin / 1000) for name, at in steps if at]


def browser(base: str, cookie: str, seconds: float, out: dict) -> None:
    """Open the player page on a camera nobody watches: seconds to the first picture (video
    time advancing), then what the page shows: live edge minus current time, once a second."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    script = ("var v = document.getElementById('live-video'), s = v.seekable;"
              "return s.length && v.currentTime > 0 ? s.end(s.length - 1) - v.currentTime"
              " : null;")  # fmt: skip
    try:
        driver.get(base + "status.json?cookie")  # same origin, so the cookie can be set
        driver.add_cookie({"name": "sessionid", "value": cookie})
        t0 = time.monotonic()
        driver.get(base)
        driver.execute_script(FIRST_FRAME)
        out["ready"].set()
        while time.monotonic() - t0 < seconds:
            value = driver.execute_script(script)
            if value is not None:
                if "first_picture" not in out:
                    out["first_picture"] = time.monotonic() - t0
                    out["resources"] = driver.execute_script(RESOURCES)
                if time.monotonic() - t0 > 8:
                    out["buffers"].append(value)
            time.sleep(0.2 if "first_picture" not in out else 1.0)
    finally:
        driver.quit()


def setup(args) -> dict:
    """A temp data dir, the camera, a user; live supervisor, recorder and gunicorn running."""
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-"))
    port = free_port()
    env = {**os.environ, "CRIMEBOX_DATA_DIR": str(data), "CRIMEBOX_ENV_FILE": os.devnull,
           "CRIMEBOX_LIVE_DIR": str(data / "live"), "CRIMEBOX_BIND": f"127.0.0.1:{port}",
           "DJANGO_SETTINGS_MODULE": "crimebox.settings", "CRIMEBOX_LOG_LEVEL": "WARNING",
           "CRIMEBOX_SEGMENT_SECONDS": "60"}  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from cameras.models import Camera

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # gunicorn serves them (whitenoise)
    server, rtsp = camera(args.sub_kbps)
    cam = Camera.objects.create(
        name="bench", source="rtsp", main_stream_uri=f"{rtsp}/cam", sub_stream_uri=f"{rtsp}/sub"
    )
    user = User.objects.create_user("bench", is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "-c", "python:crimebox.gunicorn_conf",
                "crimebox.wsgi"]  # fmt: skip
    procs = {name: subprocess.Popen([sys.executable, "manage.py", name], env=env, cwd=ROOT)
             for name in ("live", "record")}  # fmt: skip
    procs["web"] = subprocess.Popen(gunicorn, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/live/{cam.pk}/"
    return {"server": server, "camera": cam, "user": user, "procs": procs, "base": base}


def wait_live(cam) -> int:
    """Ask for the camera as the player page does until it plays; the live FFmpeg's pid."""
    from live import state

    deadline = time.monotonic() + 40
    while (state.camera_state(cam.slug) or {}).get("state") != "playing":
        state.want(cam.slug)
        assert time.monotonic() < deadline, state.camera_state(cam.slug)
        time.sleep(0.5)
    return state.camera_state(cam.slug)["pid"]


def measure(box: dict, args) -> dict:
    from live import state

    cam = box["camera"]
    seen = {"buffers": [], "ready": threading.Event()}
    watcher = Watcher(state.live_dir(), cam.slug)
    watcher.start()
    if not args.no_browser:  # first: it is the viewer who starts the stream
        cookie = session_cookie(box["user"])
        threading.Thread(target=browser, args=(box["base"], cookie, args.seconds + 15, seen),
                         daemon=True).start()  # fmt: skip
        seen["ready"].wait(60)
    ffmpeg_pid = wait_live(cam)
    viewers = [Viewer(box["base"], session_cookie(box["user"]), state.stream_dir(cam.slug))
               for _ in range(args.viewers)]  # fmt: skip
    for v in viewers:
        v.start()
    time.sleep(3)
    recording = subprocess.run(["pgrep", "-P", str(box["procs"]["record"].pid), "-x", "ffmpeg"],
                               capture_output=True, text=True).stdout.split()  # fmt: skip
    pids = {"live FFmpeg": ffmpeg_pid,
            **{f"recording FFmpeg {p} (720p main)": int(p) for p in recording}}  # fmt: skip
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    bytes0, media0, w0 = [v.bytes for v in viewers], viewers[0].media, time.monotonic()
    time.sleep(args.seconds)
    wall = time.monotonic() - w0
    watcher.stop = True
    steps = []
    if "resources" in seen:
        origin, page, resources, marks = seen["resources"]
        steps = timeline(origin, page, resources, marks, watcher.seen)
    for v in viewers:
        v.stop = True
    media = [(b - a) for a, b in zip(media0, viewers[0].media, strict=True)]
    return {
        "wall": wall,
        "cpu": {name: (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()},
        "rates": [(v.bytes - b0) / wall for v, b0 in zip(viewers, bytes0, strict=True)],
        "substream": media[0] / media[1] if media[1] else 0.0,  # bytes per media second
        "delays": [d for v in viewers for d in v.delays],
        "buffers": seen["buffers"],
        "first_picture": seen.get("first_picture"),
        "steps": steps,
    }


def report(m: dict, args) -> None:
    print(f"1 camera live (640x360 substream, x264 at {args.sub_kbps} kbit/s, 1 s keyframes), "
          f"{args.viewers} HTTP viewers{'' if args.no_browser else ' + 1 Chromium'}, "
          f"{m['wall']:.0f} s; recorder recording the main stream meanwhile")  # fmt: skip
    for name, share in m["cpu"].items():
        print(f"  {name} CPU: {share:.4f} of one core")
    print(
        f"  substream bitrate (segment bytes / media seconds): "
        f"{m['substream'] * 8 / 1000:.0f} kbit/s"
    )
    for i, rate in enumerate(m["rates"]):
        print(f"  viewer {i}: {rate * 8 / 1000:.0f} kbit/s served, "
              f"ratio to the substream's bitrate {rate / m['substream']:.3f}")  # fmt: skip
    if m["delays"]:
        print(f"  segment's first frame -> served: median {statistics.median(m['delays']):.2f} s, "
              f"max {max(m['delays']):.2f} s")  # fmt: skip
    if m["first_picture"] is not None:
        print(
            f"  Chromium: first picture {m['first_picture']:.2f} s after opening the page "
            "(camera not live before), step by step:"
        )
        for name, at in m["steps"]:
            print(f"    {at:6.2f} s  {name}")
    if m["buffers"]:
        buffer = statistics.median(m["buffers"])
        total = statistics.median(m["delays"] or [0]) + buffer
        print(f"  player buffer (hls.js in Chromium, live edge - current time): median "
              f"{buffer:.2f} s; delay behind the camera about {total:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--sub-kbps", type=int, default=500)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    box = setup(args)
    try:
        report(measure(box, args), args)
    finally:
        for proc in box["procs"].values():
            proc.send_signal(signal.SIGTERM)
        for proc in box["procs"].values():
            proc.wait(30)
        box["server"].terminate()


if __name__ == "__main__":
    main()
