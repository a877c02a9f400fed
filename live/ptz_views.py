"""The live player's PTZ controls: what the buttons post to. `cameras.control_ptz` (and live
view) or 403; saving a preset also needs `cameras.change_camera` (a technician's action)."""

import json
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from audit import roles
from cameras import ptz
from cameras.models import Camera

from .views import live_data

PERM = roles.STEER
SAVE_PERM = roles.CHANGE_CAMERAS


def _refused() -> JsonResponse:
    return JsonResponse({"message": "You may watch this camera but not steer it."}, status=403)


def may_steer(user: Any) -> bool:
    return bool(user.has_perm(PERM))


@live_data
def presets(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    if not may_steer(request.user):
        return _refused()
    camera = get_object_or_404(Camera.objects.select_related("ptz_holder"), pk=camera_id)
    if not camera.can_steer():
        return JsonResponse({"message": f"{camera.name} cannot be steered."}, status=404)
    try:
        found = ptz.presets_of(camera)
    except ptz.PTZError as e:
        return JsonResponse({"message": str(e)}, status=e.status)
    items = [{"token": p["token"], "name": p["name"] or p["token"]} for p in found]
    return JsonResponse({"presets": items, **ptz.state(camera)})


@require_POST
@live_data
def control(request: HttpRequest, camera_id: int, action: str) -> HttpResponseBase:
    if not may_steer(request.user):
        return _refused()
    if action == "save" and not request.user.has_perm(SAVE_PERM):
        return JsonResponse({"message": "Saving a preset is a technician's action."}, status=403)
    camera = get_object_or_404(Camera.objects.select_related("ptz_holder"), pk=camera_id)
    try:
        body = json.loads(request.body or b"{}")
        value = str(body.get("value", "")) if isinstance(body, dict) else ""
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"message": "The command is not JSON."}, status=400)
    try:
        answer = ptz.command(camera, request.user, action, value, request=request)
    except ptz.PTZError as e:
        return JsonResponse({"message": str(e)}, status=e.status)
    return JsonResponse(answer)
