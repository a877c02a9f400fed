"""Several real processes writing one SQLite database at once, as the web server, the Django-Q
cluster and the recorder do: no "database is locked", no forked chains, no lost rows."""

import shutil
import subprocess

import pytest

from audit.log import walk_chain
from audit.models import AuditEvent
from recordings.evidence.integrity import verify_segments
from recordings.models import Segment
from tests.factories import make_camera, make_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WRITER = """
import sys
from pathlib import Path
from audit import log
from cameras.models import Camera
from recordings.index import index_segment
n, files = int(sys.argv[1]), sys.argv[2:]
camera = Camera.objects.get(name="Shared")
for i, path in enumerate(files):
    index_segment(camera, Path(path))
    for j in range(5):
        log.record("system", username=f"writer{n}", target=f"entry {i}.{j}")
"""


def test_processes_append_to_the_same_chains_without_locks_or_forks(
    box_env, manage_argv, settings, tmp_path
):
    camera = make_camera("Shared")
    folder = settings.RECORDINGS_DIR / camera.slug / "2026-11-24"
    source = make_media(tmp_path / "one.mp4", seconds=1)
    writers, per_writer = 4, 8
    files = {n: [] for n in range(writers)}
    for n in range(writers):
        for i in range(per_writer):
            path = folder / f"20261124T{n:02d}{i:02d}00Z.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            with path.open("ab") as f:
                f.write(f"{n}-{i}".encode())  # distinct bytes, distinct hashes
            files[n].append(str(path))
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [
                *manage_argv,
                "shell",
                "-v0",
                "-c",
                f"import sys; sys.argv = ['w', '{n}', *{files[n]!r}]; "
                f"exec(open({str(script)!r}).read())",
            ],
            env=box_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert "locked" not in err

    segments = list(Segment.objects.filter(camera=camera).order_by("sequence"))
    assert [s.sequence for s in segments] == list(range(1, writers * per_writer + 1))
    assert verify_segments().ok
    assert AuditEvent.objects.count() == writers * per_writer * 5
    assert walk_chain().problems == []
