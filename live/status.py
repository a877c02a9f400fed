"""What the player page polls: the camera's live state, read from the RAM directory."""

import time
from datetime import datetime
from pathlib import Path

from cameras.models import Camera
from recordings import ffmpeg

from . import state

NO_SUBSTREAM = (
    "This camera has no substream, so live view sends its recorded main stream{size}: about "
    "{ratio} the data of a 640×360 substream per viewer (see the bitrate below), which a "
    "cellular link may not carry. Set a substream in the camera's settings."
)


def stream_kind(camera: Camera) -> str:
    if camera.source == Camera.Source.TEST_PATTERN or camera.sub_stream_uri:
        return "sub"
    return "main"


def stream_size(camera: Camera) -> tuple[int | None, int | None]:
    if camera.source == Camera.Source.TEST_PATTERN:
        return 640, 360
    if stream_kind(camera) == "sub":
        return camera.sub_width, camera.sub_height
    return camera.main_width, camera.main_height


def fallback_note(camera: Camera) -> str:
    if stream_kind(camera) == "sub":
        return ""
    width, height = camera.main_width, camera.main_height
    size = f" ({width}×{height})" if width and height else ""
    ratio = f"{width * height / (640 * 360):.0f}×" if width and height else "several times"
    return NO_SUBSTREAM.format(size=size, ratio=ratio)


def parse_playlist(text: str) -> list[tuple[str, float]]:
    """(segment name, duration) of each segment in an HLS media playlist."""
    segments, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((line, duration))
            duration = None
    return segments


def playlist_stats(folder: Path, now: float) -> dict:
    """Bitrate over the playlist's segments and the age of its newest one (its last frame
    arrived about when FFmpeg closed it)."""
    try:
        segments = parse_playlist((folder / ffmpeg.LIVE_PLAYLIST).read_text())
        sizes = [(folder / name).stat().st_size for name, _ in segments]
        newest = (folder / segments[-1][0]).stat().st_mtime
    except (OSError, ValueError, IndexError):
        return {}
    seconds = sum(d for _, d in segments)
    return {
        "bitrate_kbps": round(sum(sizes) * 8 / seconds / 1000) if seconds else None,
        "edge_age": round(max(0.0, now - newest), 2),
        "segments": len(segments),
    }


def live_status(camera: Camera, now: float | None = None) -> dict:
    now = now or time.time()
    width, height = stream_size(camera)
    data = {"camera": camera.name, "stream": stream_kind(camera), "width": width,
            "height": height, "fallback": fallback_note(camera),
            "recording": camera.get_status_display()}  # fmt: skip
    if not camera.is_enabled:
        return {**data, "state": "disabled", "message": "This camera is disabled."}
    if not state.supervisor_running(now):
        return {
            **data,
            "state": "service_down",
            "message": "The box's live service (crimebox-live) is not running: ask the "
            "administrator. Recording is not affected.",
        }
    current = state.camera_state(camera.slug) or {}
    if current.get("state") in (None, "off"):
        # The request that brought us here asked for it; the supervisor starts it next tick.
        return {**data, "state": "starting", "message": "Starting the live stream…"}
    data.update(state=current["state"], message=current.get("message", ""))
    stats: dict = {}
    if current["state"] in ("starting", "playing"):
        stats = playlist_stats(state.stream_dir(camera.slug), now)
    if stats:
        # A playlist with a segment plays: the page need not wait for the supervisor's next
        # tick to say so (it removes the files of an FFmpeg that ended).
        data.update(state="playing", message="Live.", **stats)
    return data


def health_part(sender: object, now: datetime, **kwargs: object) -> dict:
    """The live service in the box's health (recordings.health.health_parts): a warning, not
    an alarm, when it is not running while there are cameras to watch; recording does not
    depend on it."""
    running = state.supervisor_running(now.timestamp())
    cameras = Camera.objects.enabled().exists()
    warnings = []
    if cameras and not running:
        warnings.append(
            "The live view service is not running: nobody can watch a camera live (recording "
            "is not affected). Check `systemctl status crimebox-live`."
        )
    return {"name": "live", "alarms": [], "warnings": warnings,
            "data": {"service_running": running}}  # fmt: skip
