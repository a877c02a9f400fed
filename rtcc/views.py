from django.http import HttpRequest, JsonResponse

from .models import IngestState


def health(request: HttpRequest) -> JsonResponse:
    """Whether the console answers, and how fresh its read models are."""
    state = IngestState.get()
    return JsonResponse(
        {
            "ok": True,
            "last_pass_at": state.last_pass_at.isoformat() if state.last_pass_at else None,
            "last_error": state.last_error,
        }
    )
