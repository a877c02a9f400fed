"""The built-in test-pattern camera, so a box with no camera still shows recording work."""

from .models import Camera


def ensure_test_camera() -> Camera | None:
    """Add the test-pattern camera when the box has no camera at all; None otherwise."""
    if Camera.objects.exists():
        return None
    return Camera.objects.create(
        name="Test pattern",
        location="Built-in (FFmpeg test source); disable or delete once real cameras exist",
        source=Camera.Source.TEST_PATTERN,
    )
