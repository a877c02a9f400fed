"""What the operator commands of every app share about cameras."""

from django.core.management.base import CommandError

from .models import Camera


def camera_named(name: str) -> Camera:
    """The camera a command's --camera names, or a CommandError saying there is none."""
    camera = Camera.objects.filter(name=name).first()
    if camera is None:
        raise CommandError(f"no camera named {name!r}")
    return camera
