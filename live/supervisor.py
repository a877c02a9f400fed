"""The live supervisor: one FFmpeg per camera someone is watching, none otherwise.

Shaped like the recorder's: `LiveSupervisor.tick()` does one round and the `live` command
loops around it. Its own process (systemd unit crimebox-live), not the recorder's: a live
FFmpeg or this loop failing can never touch a recording, and each live FFmpeg opens its own
RTSP session to the camera. Demand comes from the web as touched files (live.state).
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from cameras.audit import stream_redirect_refused
from cameras.models import Camera
from crimebox import rtsp_guard
from crimebox.ffrun import FFmpegError

from . import sessions, state
from .stream import Stream, clear_dir, live_fingerprint

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
FIRST_RETRY = 2.0
SYNC_INTERVAL = 2.0


class LiveSupervisor:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.streams: dict[int, Stream] = {}
        self.cameras: dict[int, Camera] = {}
        self.failures: dict[int, int] = {}
        self.retry_at: dict[int, float] = {}
        self.errors: dict[int, str] = {}
        self.written: dict[int, dict] = {}
        self.wanted_since: dict[int, float] = {}  # first come, first served under the cap
        self.last_sync = float("-inf")

    def tick(self) -> None:
        now = self.clock()
        state.beat(now)
        if now - self.last_sync >= SYNC_INTERVAL:
            self.last_sync = now
            close_old_connections()
            self.cameras = {c.pk: c for c in Camera.objects.enabled()}
            sessions.close_stale()
        for stream in list(self.streams.values()):
            self.check(stream, now)
        self.start_wanted(now)

    def new_demand(self) -> bool:
        """Someone asked for a camera that was not wanted at the last tick: worth a tick now
        rather than at the next interval (one stat per camera, cheap to ask often)."""
        now = self.clock()
        return any(
            pk not in self.wanted_since and self.wanted(camera, now)
            for pk, camera in self.cameras.items()
        )

    def wanted(self, camera: Camera, now: float) -> bool:
        at = state.wanted_at(camera.slug)
        return at is not None and now - at <= settings.LIVE_IDLE_SECONDS

    def check(self, stream: Stream, now: float) -> None:
        camera = self.cameras.get(stream.camera_id)
        if stream.proc.poll() is not None:
            message = stream.exit_message()
            refused = rtsp_guard.refusal(list(stream.stderr))
            if refused and camera is not None:
                stream_redirect_refused(camera, refused, via="live")
            self.failed(stream, message, now)
        elif camera is None or not self.wanted(camera, now):
            self.stop(stream, "off", "Nobody is watching.")
        elif live_fingerprint(camera) != stream.fingerprint:
            self.stop(stream, "off", "Restarting: the camera's settings changed.")
        elif self.stalled(stream, now):
            stream.proc.kill()
            stream.proc.wait()
            self.failed(stream, "No video from the camera for a while; retrying.", now)
        elif stream.playlist_age(now) is not None:
            self.failures[stream.camera_id] = 0
            self.errors.pop(stream.camera_id, None)
            self.publish(camera, "playing", "Live.", pid=stream.proc.pid)

    def stalled(self, stream: Stream, now: float) -> bool:
        age = stream.playlist_age(now)
        limit = settings.RTSP_TIMEOUT_SECONDS + 5
        if age is None:
            return now - stream.started_at > limit
        return age > limit

    def start_wanted(self, now: float) -> None:
        wanted = [c for c in self.cameras.values() if self.wanted(c, now)]
        for camera in wanted:
            self.wanted_since.setdefault(camera.pk, now)
        # Longest waiting first; a camera backing off after a failure takes no place.
        wanted.sort(key=lambda c: self.wanted_since[c.pk])
        idle = float(settings.LIVE_IDLE_SECONDS)
        demand = {
            c.pk: state.wanters(c.slug, now, idle)
            for c in wanted
            if c.pk in self.streams or self.retry_at.get(c.pk, 0) <= now
        }
        chosen = fair_share(demand, set(self.streams), settings.LIVE_MAX_CAMERAS)
        for camera in wanted:
            if camera.pk in self.streams and camera.pk not in chosen:
                # Another person waits and this one holds more than a fair share.
                self.stop(self.streams[camera.pk], "capped", "")
        for camera in wanted:
            if camera.pk in self.streams:
                continue
            if self.retry_at.get(camera.pk, 0) > now:
                self.publish(camera, "unavailable", self.errors.get(camera.pk, ""))
            elif camera.pk not in chosen:
                self.publish(camera, "capped", self.cap_message())
            else:
                self.start(camera, now)
        for camera in self.cameras.values():
            if camera.pk not in self.streams and not self.wanted(camera, now):
                self.retry_at.pop(camera.pk, None)
                self.wanted_since.pop(camera.pk, None)
                self.publish(camera, "off", "Nobody is watching.")

    def cap_message(self) -> str:
        names = ", ".join(sorted(s.name for s in self.streams.values()))
        limit = settings.LIVE_MAX_CAMERAS
        return (
            f"This box shows at most {limit} camera{'s' if limit != 1 else ''} live at once "
            f"(CRIMEBOX_LIVE_MAX_CAMERAS), to spare its uplink and the cameras' sessions; "
            f"live now: {names}. Places are shared fairly between the people watching; this "
            f"page starts as soon as one of them is closed."
        )

    def start(self, camera: Camera, now: float) -> None:
        try:
            stream = Stream(camera, now)
        except (OSError, FFmpegError) as e:  # no FFmpeg; a stored URL that is not RTSP
            self.errors[camera.pk] = f"Cannot start FFmpeg: {e}"
            self.retry_at[camera.pk] = now + MAX_BACKOFF
            self.publish(camera, "unavailable", self.errors[camera.pk])
            return
        self.streams[camera.pk] = stream
        self.publish(camera, "starting", "Connecting to the camera…", pid=stream.proc.pid)

    def failed(self, stream: Stream, message: str, now: float) -> None:
        del self.streams[stream.camera_id]
        clear_dir(stream.dir)
        failures = self.failures.get(stream.camera_id, 0) + 1
        self.failures[stream.camera_id] = failures
        self.retry_at[stream.camera_id] = now + min(MAX_BACKOFF, FIRST_RETRY * 2 ** (failures - 1))
        self.errors[stream.camera_id] = message
        logger.warning("live %s: FFmpeg (pid %d) ended: %s", stream.name, stream.proc.pid, message)
        camera = self.cameras.get(stream.camera_id)
        if camera is not None:
            self.publish(camera, "unavailable", message)

    def stop(self, stream: Stream, status: str, message: str) -> None:
        del self.streams[stream.camera_id]
        stream.stop()
        camera = self.cameras.get(stream.camera_id)
        if camera is not None:
            self.publish(camera, status, message)

    def publish(self, camera: Camera, status: str, message: str, **extra: Any) -> None:
        """The camera's state for the web; rewritten only when it changes."""
        data = {"state": status, "message": message, **extra}
        if self.written.get(camera.pk) != data:
            state.set_camera_state(camera.slug, {**data, "since": self.clock()})
            self.written[camera.pk] = data

    def shutdown(self) -> None:
        for stream in list(self.streams.values()):
            self.stop(stream, "off", "The live service stopped.")
        sessions.close_stale()
        state.stop_beating()


def fair_share(demand: dict[int, set[int]], running: set[int], cap: int) -> set[int]:
    """The cameras to show when more are wanted than the cap allows: each person in turn (the
    longest waiting first) takes their next camera, running ones before waiting ones, so one
    person cannot hold every place while another waits. `demand` is camera → user ids, in
    the order the cameras were first wanted; demand with no user counts as one person."""
    if len(demand) <= cap:
        return set(demand)
    order = list(demand)
    queues: dict[int | None, list[int]] = {}
    for camera in sorted(order, key=lambda c: (c not in running, order.index(c))):
        users: set[int | None] = set(demand[camera]) or {None}
        for user in users:
            queues.setdefault(user, []).append(camera)
    people = sorted(queues, key=lambda u: min(order.index(c) for c in queues[u]))
    chosen: set[int] = set()
    while len(chosen) < cap and any(queues.values()):
        for user in people:
            queue = queues[user]
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < cap:
                chosen.add(queue.pop(0))
    return chosen
