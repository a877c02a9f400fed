"""Export and thumbnail FFmpeg runs have timeouts: a hung FFmpeg is stopped."""

from datetime import UTC, datetime, timedelta

import pytest

from recordings.evidence import fmp4
from recordings.evidence.package import write_package
from recordings.evidence.plan import plan
from recordings.footage import thumbnails
from recordings.models import Export
from tests.factories import make_camera, make_segment

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def hung_ffmpeg(tmp_path, settings):
    """An FFmpeg that answers -version and hangs on everything else."""
    script = tmp_path / "ffmpeg"
    script.write_text(
        '#!/bin/sh\ncase "$*" in *-version*) echo "ffmpeg version hung";; *) exec sleep 60;; esac\n'
    )
    script.chmod(0o755)
    settings.FFMPEG = str(script)
    return script


def test_a_hung_clip_cut_is_stopped_and_leaves_nothing(db, tmp_path, hung_ffmpeg, monkeypatch):
    """FFmpeg cuts the clips recordings/evidence/fmp4.py does not splice (audio, B-frames...)."""
    camera = make_camera("North")
    make_segment(camera, T0, 4)

    def refuse(*args, **kwargs):
        raise fmp4.Unsupported("as if the segment had audio")

    monkeypatch.setattr(fmp4, "splice", refuse)
    monkeypatch.setattr("recordings.ffmpeg.clip_timeout", lambda size: 0.5)
    export = Export.objects.create(start=T0, end=T0 + timedelta(seconds=2), case_number="1")
    out = tmp_path / "out"
    with pytest.raises(Exception, match="took longer than 0.5 s and was stopped"):
        write_package(export, plan([camera], export.start, export.end), out)
    assert list(out.iterdir()) == []


def test_a_hung_thumbnail_is_stopped(db, hung_ffmpeg, monkeypatch):
    segment = make_segment(make_camera("North"), T0, 1)
    monkeypatch.setattr(thumbnails, "TIMEOUT_SECONDS", 0.5)
    assert thumbnails.thumbnail(segment) is None
    assert not thumbnails.thumbnail_path(segment).exists()


def test_a_failing_sink_stops_ffmpeg_and_raises(db, tmp_path):
    """The disk filling up mid-export: the error surfaces, FFmpeg is stopped, nothing hangs."""
    import errno

    from crimebox import ffrun
    from recordings import ffmpeg

    segment = make_segment(make_camera("North"), T0, 8)
    listing = tmp_path / "l.ffconcat"
    listing.write_text(ffmpeg.concat_listing([segment.abs_path], 0))
    taken = []

    def sink(block):
        taken.append(len(block))
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ffrun.stream_stdout(ffmpeg.clip_argv(listing, 8), sink, 30)
    assert len(taken) == 1
