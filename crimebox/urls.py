from typing import Any

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from console import views as console
from recordings.health import health_view

admin.site.site_header = "crimebox"
admin.site.site_title = "crimebox"
admin.site.index_title = "Box administration"


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on every visit: answer instead of logging a 404 each time."""

    permanent = True

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        return static("crimebox/favicon.svg")


urlpatterns = [
    path("health", health_view, name="health"),
    path("favicon.ico", FaviconView.as_view()),
    path("footage/", include("recordings.footage.urls")),
    path("live/", include("live.urls")),
    path("", include("console.urls")),
    # Before the admin's own: the front page is the admin's index, the login lands by role.
    path("", console.front, name="front"),
    path("login/", console.login, name="login"),
    path("", admin.site.urls),
]
