"""recordings/footage/thumbnails.py under threaded web workers: one picture per segment, whole."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from recordings.footage import thumbnails
from tests.factories import make_camera, make_segment

pytestmark = pytest.mark.django_db(transaction=True)


def test_requests_for_the_same_thumbnail_at_once_each_get_a_whole_picture():
    segment = make_segment(make_camera())
    with ThreadPoolExecutor(max_workers=6) as pool:
        paths = list(pool.map(lambda _: thumbnails.thumbnail(segment), range(6)))
    assert all(p == thumbnails.thumbnail_path(segment) for p in paths), paths
    data = paths[0].read_bytes()
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"  # a whole JPEG
    assert sorted(p.name for p in paths[0].parent.iterdir()) == [paths[0].name]  # no leftovers
