from django.urls import path

from . import views

app_name = "recordings"
urlpatterns = [
    path("", views.index, name="index"),
    path("camera/<int:camera_id>/", views.camera_day, name="today"),
    path("camera/<int:camera_id>/<str:day>/", views.camera_day, name="day"),
    path("camera/<int:camera_id>/<str:day>/playlist.json", views.playlist, name="playlist"),
    path("segment/<int:segment_id>/played", views.played, name="played"),
    path("segment/<int:segment_id>/", views.player, name="player"),
    path("segment/<int:segment_id>/media.mp4", views.media, name="media"),
    path("segment/<int:segment_id>/download", views.download, name="download"),
    path("segment/<int:segment_id>/thumb.jpg", views.thumb, name="thumb"),
]
