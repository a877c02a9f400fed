"""The console's URLconf. The pages (fleet map, box page, where and when, alerts) are added
here by the console's views; for now the admin and a health line."""

from django.contrib import admin
from django.urls import path

from . import views

admin.site.site_header = "crimebox RTCC"
admin.site.site_title = "crimebox RTCC"
admin.site.index_title = "Console administration"

urlpatterns = [
    path("health", views.health, name="health"),
    path("admin/", admin.site.urls),
]
