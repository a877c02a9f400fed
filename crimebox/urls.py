from django.contrib import admin
from django.urls import include, path

from recordings.health import health_view

admin.site.site_header = "crimebox"
admin.site.site_title = "crimebox"
admin.site.index_title = "Box administration"

urlpatterns = [
    path("health", health_view, name="health"),
    path("footage/", include("recordings.urls")),
    path("live/", include("live.urls")),
    path("", admin.site.urls),
]
