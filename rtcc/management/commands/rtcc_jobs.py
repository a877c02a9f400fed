import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from crimebox.daemon import require_migrated
from rtcc.models import ClipJob


def job_row(job: ClipJob) -> dict:
    rate = job.rate()
    return {
        "request": job.request,
        "box": job.box_id,
        "camera": job.camera,
        "start": job.start.isoformat(),
        "end": job.end.isoformat(),
        "case": job.case_number,
        "user": job.user,
        "state": job.state,
        "progress": job.percent,
        "rate_bytes_per_s": int(rate) if rate else None,
        "eta_s": job.eta_seconds(),
        "reason": job.box_reason or job.problem,
        "path": job.path if job.state == ClipJob.State.READY else "",
        "sha256": job.package_sha256 if job.state == ClipJob.State.READY else "",
        "created_at": job.created_at.isoformat(),
    }


class Command(BaseCommand):
    help = "Clip requests and their state, progress, reason and, once ready, path and SHA-256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        rows = [job_row(j) for j in ClipJob.objects.order_by("created_at")]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for r in rows:
            extra = (
                r["path"]
                and f" {r['path']} sha256 {r['sha256']}"
                or (r["reason"] and f" — {r['reason']}")
            )
            self.stdout.write(
                f"{r['request']} {r['box']} {r['camera']} {r['start']}..{r['end']} case "
                f"{r['case']} by {r['user']}: {r['state']} {r['progress']}%{extra or ''}"
            )
