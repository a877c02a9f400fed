"""The console's URLconf: its pages (rtcc/pages/), the admin (users, roles, audit trail) and a
health line."""

from django.contrib import admin
from django.urls import include, path

from . import views
from .pages import access, alerts, box, clips, enrolment, fleet, package, where

admin.site.site_header = "crimebox RTCC"
admin.site.site_title = "crimebox RTCC"
admin.site.index_title = "Console administration"

pages = [
    path("", fleet.fleet, name="fleet"),
    path("landing/", access.landing, name="landing"),
    path("boxes/<str:box_id>/", box.box_page, name="box"),
    path("where/", where.where, name="where"),
    path("alerts/", alerts.alerts, name="alerts"),
    path("enrolment/", enrolment.enrolment, name="enrolment"),
    path("clips/", clips.clips, name="clips"),
    path("clips/request/", clips.clip_request, name="clip_request"),
    path("clips/<str:request_id>/", clips.clip, name="clip"),
    path("clips/<str:request_id>/cancel", clips.clip_cancel, name="clip_cancel"),
    path("clips/<str:request_id>/download", package.clip_download, name="clip_download"),
]

urlpatterns = [
    path("health", views.health, name="health"),
    path("login/", access.login, name="login"),
    path("", include((pages, "rtcc"))),
    path("admin/", admin.site.urls),
]
