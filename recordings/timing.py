"""Cross-checks of a segment's times: media duration, frame count and the wall clock.

A camera's stream timestamps are not evidence by themselves: measured, when they went
wrong, 10 s files with ~250 frames declared 0.06-0.1 s of media and their starts drifted
83 s early. When the three disagree, the segment says so (`media_warning`), and so do
/health and every manifest that uses it.
"""

from crimebox.ffprobe import MediaInfo

WALL_SLACK = 1.5  # seconds: keyframe arrival and pipe delays between two close reports
WALL_RATIO = 0.25


def wall_disagreement(duration: float, wall_seconds: float | None) -> str:
    if wall_seconds is None or wall_seconds <= 0:
        return ""
    if abs(duration - wall_seconds) <= max(WALL_SLACK, WALL_RATIO * wall_seconds):
        return ""
    return (
        f"{duration:.2f} s of media took {wall_seconds:.1f} s of wall time: the stream's "
        "timestamps disagree with the clock"
    )


def frames_disagreement(info: MediaInfo) -> str:
    """Far more frames than the duration can hold at the stream's declared rate."""
    rate = info.nominal_fps
    if not info.frames or info.duration <= 0 or not rate or not 1 <= rate <= 120:
        return ""
    expected = info.duration * rate
    if info.frames <= 1.5 * expected + rate:
        return ""
    return (
        f"{info.frames} frames in {info.duration:.2f} s of media (the stream declares "
        f"{rate:g} fps): the media's timestamps are wrong"
    )


def media_warning(info: MediaInfo, wall_seconds: float | None = None) -> str:
    """What disagrees, in one line for the segment's row; empty when all agree."""
    return "; ".join(
        p for p in (wall_disagreement(info.duration, wall_seconds), frames_disagreement(info)) if p
    )
