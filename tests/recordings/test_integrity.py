import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from recordings.evidence.integrity import verify_segments
from recordings.index import index_segment, open_segment, segment_dir
from recordings.models import IntegrityCheck, Segment
from tests.factories import make_camera, make_media, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def recorded(db):
    camera = make_camera("North")
    segs = make_segments(camera, T0, 4, seconds=2)
    return camera, segs


def run_command(*args, capsys):
    code = 0
    try:
        call_command("verify_segments", *args)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().out


def test_intact_footage_verifies(recorded, capsys):
    code, out = run_command(capsys=capsys)
    assert code == 0
    assert "4 segments checked, 0 problem(s)" in out
    check = IntegrityCheck.objects.get()
    assert check.ok and check.checked == 4
    assert all(s.verified_at for s in Segment.objects.all())


def test_one_changed_byte_is_named(recorded, capsys):
    _, segs = recorded
    path = segs[2].abs_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = run_command("--json", capsys=capsys)
    assert code == 1
    problems = json.loads(out)["problems"]
    assert [(p["segment"], p["problem"]) for p in problems] == [(segs[2].pk, "modified")]
    segs[2].refresh_from_db()
    assert segs[2].status == Segment.Status.CORRUPT


def test_altered_row_is_out_of_chain(recorded, capsys):
    _, segs = recorded
    Segment.objects.filter(pk=segs[1].pk).update(start=segs[1].start + timedelta(seconds=1))
    code, out = run_command(capsys=capsys)
    assert code == 1
    assert f"OUT_OF_CHAIN: North segment {segs[1].pk} (#2)" in out
    assert f"segment {segs[2].pk}" not in out  # the next link still follows the stored hash


def test_removed_row_breaks_the_chain(recorded, capsys):
    _, segs = recorded
    Segment.objects.filter(pk=segs[1].pk).delete()
    code, out = run_command(capsys=capsys)
    assert code == 1
    assert f"segment {segs[2].pk} (#3)" in out and "segments 2..2 are gone" in out


def test_reordered_rows_are_out_of_chain(recorded):
    _, segs = recorded
    a, b = segs[1], segs[2]
    Segment.objects.filter(pk=a.pk).update(sequence=99)
    Segment.objects.filter(pk=b.pk).update(sequence=2)
    Segment.objects.filter(pk=a.pk).update(sequence=3)
    check = verify_segments()
    assert not check.ok
    assert {p["segment"] for p in check.problems} >= {a.pk, b.pk}


def test_missing_file_is_named(recorded, capsys):
    _, segs = recorded
    segs[0].abs_path.unlink()
    code, out = run_command(capsys=capsys)
    assert code == 1
    assert f"MISSING: North segment {segs[0].pk}" in out
    segs[0].refresh_from_db()
    assert segs[0].status == Segment.Status.MISSING


def test_deleted_by_retention_still_chains(recorded):
    _, segs = recorded
    segs[0].abs_path.unlink()
    Segment.objects.filter(pk=segs[0].pk).update(status=Segment.Status.DELETED)
    assert verify_segments().ok


def test_segment_being_recorded_is_outside_the_chain_until_it_closes(recorded):
    camera, segs = recorded
    start = segs[-1].end
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    row = open_segment(camera, make_media(path, 2))
    check = verify_segments()
    assert check.ok and check.checked == 4
    index_segment(camera, path, start=start)
    row.refresh_from_db()
    assert row.sequence == 5 and row.status == Segment.Status.COMPLETE
    assert verify_segments().ok


def test_unknown_camera_is_a_clear_error(recorded):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no camera named 'Nope'"):
        call_command("verify_segments", "--camera", "Nope")


def test_the_manifests_chain_formula_computes_the_chain_hash():
    """The formula given to a court is evaluated as written and must give the stored hash."""
    import hashlib

    from recordings.evidence.hashing import CHAIN_FORMULA, CHAIN_VERSION, segment_chain_hash

    assert CHAIN_FORMULA == (
        "sha256('\\n'.join(['crimebox-chain-v1', camera_id, sequence, "
        "prev_chain_hash, sha256, start, end, size]))"
    )
    assert CHAIN_VERSION in CHAIN_FORMULA
    fields = dict(
        camera_id="3",
        sequence="12",
        prev_chain_hash="ab" * 32,
        sha256="cd" * 32,
        start="2026-11-23T14:00:00.000000Z",
        end="2026-11-23T14:15:00.040000Z",
        size="1048576",
    )
    # The outer sha256( is the function, the inner sha256 the file's hash: rename the first.
    formula = CHAIN_FORMULA.replace("sha256(", "H(", 1)
    computed = eval(formula, {"H": lambda s: hashlib.sha256(s.encode()).hexdigest(), **fields})
    assert computed == segment_chain_hash(
        camera_id=3,
        sequence=12,
        prev="ab" * 32,
        sha256="cd" * 32,
        start=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 23, 14, 15, 0, 40000, tzinfo=UTC),
        size=1048576,
    )
