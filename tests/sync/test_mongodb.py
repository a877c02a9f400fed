"""Against a real MongoDB (set CRIMEBOX_TEST_MONGODB_URI to an administrator's URI of a
throw-away server); FerretDB has no roles, so the insert+find role is tested only here."""

import os
import uuid
from datetime import UTC, datetime

import pytest

from sync import remote, sender
from sync.documents import COLLECTIONS
from sync.verify import verify_remote
from tests.factories import make_camera, make_segments

URI = os.environ.get("CRIMEBOX_TEST_MONGODB_URI", "")
pytestmark = pytest.mark.skipif(
    not URI,
    reason="CRIMEBOX_TEST_MONGODB_URI is not set: the real-MongoDB tests (insert+find role) "
    "are skipped; FerretDB covers the rest",
)
T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture
def mongo(settings):
    import pymongo

    name = f"crimebox_test_{uuid.uuid4().hex[:8]}"
    admin = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
    remote.create_collections(URI, name)
    settings.RTCC_URI, settings.RTCC_URI_FILE, settings.RTCC_DB = URI, "", name
    yield admin, name
    admin.drop_database(name)
    admin[name].command("dropAllUsersFromDatabase")
    admin[name].command("dropAllRolesFromDatabase")


@pytest.mark.django_db
def test_send_and_verify_against_mongodb(mongo):
    camera = make_camera("North")
    make_segments(camera, T0, 2)
    assert sender.send_pending().ok
    assert verify_remote().ok


@pytest.mark.django_db
def test_the_box_role_can_insert_and_find_only(mongo, settings):
    import pymongo
    from pymongo.errors import OperationFailure

    admin, name = mongo
    db = admin[name]
    # What docs/sync.md's mongosh script does.
    collections = sorted(set(COLLECTIONS.values()))
    db.command(
        "createRole",
        "crimeboxWriter",
        privileges=[
            {"resource": {"db": name, "collection": c}, "actions": ["insert", "find"]}
            for c in collections
        ]
        + [
            {"resource": {"db": name, "collection": "requests"}, "actions": ["find"]},
            {"resource": {"db": name, "collection": "chunks"}, "actions": ["insert", "find"]},
        ],
        roles=[],
    )
    db.command(
        "createUser",
        "box-test",
        pwd="box-test-pw",
        roles=["crimeboxWriter"],
        authenticationRestrictions=[{"clientSource": ["127.0.0.1", "::1"]}],
    )
    host = URI.split("@")[-1].split("://")[-1].split("/")[0]
    box_uri = f"mongodb://box-test:box-test-pw@{host}/?authSource={name}"
    settings.RTCC_URI = box_uri
    camera = make_camera("North")
    make_segments(camera, T0, 1)
    assert sender.send_pending().ok
    box = pymongo.MongoClient(box_uri, serverSelectionTimeoutMS=5000)[name]
    assert box.segments.find_one({})["box"] == "test-box"
    assert box.requests.find_one({}) is None  # find is allowed
    box.chunks.insert_one({"_id": "test-box:chunk:r:0", "package": "test-box:r", "n": 0})
    for attempt in (
        lambda: box.segments.update_one({}, {"$set": {"sha256": "0" * 64}}),
        lambda: box.segments.delete_many({}),
        lambda: box.segments.drop(),
        lambda: box.other.insert_one({"x": 1}),
        # Clips on request: a box reads requests, never writes them; adds chunks, never removes.
        lambda: box.requests.insert_one({"_id": "rtcc:clip_request:x", "box": "box-18"}),
        lambda: box.chunks.delete_many({}),
        lambda: box.chunks.update_one({}, {"$set": {"data": b""}}),
    ):
        with pytest.raises(OperationFailure) as e:
            attempt()
        assert e.value.code == 13  # Unauthorized
