from django.urls import path

from . import ptz_views, views

app_name = "live"
urlpatterns = [
    path("", views.grid, name="grid"),
    path("status.json", views.grid_status, name="grid_status"),
    path("<int:camera_id>/", views.player, name="camera"),
    path("<int:camera_id>/status.json", views.status, name="status"),
    path("<int:camera_id>/index.m3u8", views.playlist, name="playlist"),
    path("<int:camera_id>/still.jpg", views.still_image, name="still"),
    path("<int:camera_id>/ptz/presets.json", ptz_views.presets, name="ptz_presets"),
    path("<int:camera_id>/ptz/<slug:action>", ptz_views.control, name="ptz"),
    path("<int:camera_id>/recorded", views.recorded, name="recorded"),
    path("<int:camera_id>/<str:name>", views.media, name="media"),
]
