from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.audit import answer_refused, camera_changed
from cameras.models import Camera
from cameras.services import (
    CameraError,
    RefusedAnswer,
    add_onvif_camera,
    add_rtsp_camera,
    add_test_pattern_camera,
    parse_onvif_address,
)


class Command(BaseCommand):
    help = (
        "Add a camera: probed over ONVIF (--onvif HOST[:PORT]), a plain RTSP URL checked "
        "with ffprobe (--rtsp URL), or the built-in test pattern (--test-pattern)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--onvif", metavar="HOST[:PORT]")
        source.add_argument("--rtsp", metavar="URL")
        source.add_argument("--test-pattern", action="store_true")
        parser.add_argument("--username", default="")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", default="")
        secret.add_argument(
            "--password-file", type=Path, help="file holding the password (keeps it out of `ps`)"
        )
        parser.add_argument("--location", default="")
        parser.add_argument(
            "--sub-rtsp",
            metavar="URL",
            default="",
            help="with --rtsp: the camera's substream, for live view (same credentials)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        password = self._password(opts)
        try:
            camera = self._add(opts, password)
        except RefusedAnswer as e:
            answer_refused(None, str(e), via="cli", host=opts["onvif"] or "", username="cli")
            raise CommandError(str(e)) from None
        except CameraError as e:
            raise CommandError(str(e)) from None
        camera_changed(camera, "added", via="cli", username="cli")
        self.stdout.write(self._summary(camera))

    def _password(self, opts: dict) -> str:
        if opts["password_file"] is None:
            return opts["password"]
        try:
            return opts["password_file"].read_text().strip()
        except OSError as e:
            raise CommandError(f"cannot read --password-file: {e.strerror}") from None

    def _add(self, opts: dict, password: str) -> Camera:
        extra = {"location": opts["location"]}
        if opts["onvif"]:
            if not opts["username"]:
                raise CommandError("--onvif needs --username (and --password or --password-file)")
            host, port = parse_onvif_address(opts["onvif"])
            return add_onvif_camera(opts["name"], host, port, opts["username"], password, **extra)
        if opts["sub_rtsp"] and not opts["rtsp"]:
            raise CommandError("--sub-rtsp goes with --rtsp (ONVIF cameras have a sub profile)")
        if opts["rtsp"]:
            return add_rtsp_camera(
                opts["name"],
                opts["rtsp"],
                opts["username"],
                password,
                sub_url=opts["sub_rtsp"],
                **extra,
            )
        return add_test_pattern_camera(opts["name"], **extra)

    def _summary(self, camera: Camera) -> str:
        lines = [f"Added camera {camera.pk} '{camera.name}' ({camera.get_source_display()})"]
        if camera.manufacturer or camera.model:
            lines.append(
                f"  device:  {camera.manufacturer} {camera.model} "
                f"serial {camera.serial_number} firmware {camera.firmware_version}"
            )
        if camera.main_stream_uri:
            lines.append(
                f"  main:    {camera.main_stream_uri} ({camera.main_codec} "
                f"{camera.main_width}x{camera.main_height})"
            )
        if camera.sub_stream_uri:
            lines.append(
                f"  sub:     {camera.sub_stream_uri} ({camera.sub_codec} "
                f"{camera.sub_width}x{camera.sub_height})"
            )
        return "\n".join(lines)
