from django.urls import path

from . import exports, views

app_name = "console"
urlpatterns = [
    path("landing/", views.landing, name="landing"),
    path("box/health/", views.health_page, name="health"),
    path("box/camera/<int:camera_id>/still.jpg", views.camera_still, name="still"),
    path("footage/export/", exports.export_new, name="export_new"),
    path("footage/exports/", exports.export_list, name="exports"),
    path("footage/exports/<int:export_id>/", exports.export_detail, name="export"),
    path("footage/exports/<int:export_id>/retry/", exports.export_retry, name="export_retry"),
]
