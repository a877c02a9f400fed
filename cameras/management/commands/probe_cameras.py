import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.audit import camera_changed
from cameras.models import Camera
from cameras.services import CameraError, reprobe


class Command(BaseCommand):
    help = "Probe every ONVIF camera again and update its make, model, profiles and stream URIs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print results as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        results = []
        for camera in Camera.objects.filter(source=Camera.Source.ONVIF):
            try:
                changes = reprobe(camera, via="cli", username="cli")
            except CameraError as e:
                results.append(
                    {
                        "id": camera.pk,
                        "name": camera.name,
                        "ok": False,
                        "error": camera.redact(str(e)),
                    }
                )
                continue
            camera_changed(camera, "re-probed", via="cli", changed=changes, username="cli")
            results.append(
                {
                    "id": camera.pk,
                    "name": camera.name,
                    "ok": True,
                    "changed": sorted(changes),
                    "manufacturer": camera.manufacturer,
                    "model": camera.model,
                    "main_stream_uri": camera.main_stream_uri,
                    "sub_stream_uri": camera.sub_stream_uri,
                }
            )
        if opts["json"]:
            self.stdout.write(json.dumps(results, indent=2))
        else:
            for r in results:
                state = f"ok: {r['manufacturer']} {r['model']}" if r["ok"] else r["error"]
                self.stdout.write(f"{r['name']}: {state}")
            if not results:
                self.stdout.write("no ONVIF camera to probe")
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(results)} cameras failed to probe: "
                + "; ".join(f"{r['name']}: {r['error']}" for r in failed)
            )
