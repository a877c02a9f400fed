from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("landing/", views.landing, name="landing"),
    path("box/health/", views.health_page, name="health"),
    path("box/camera/<int:camera_id>/still.jpg", views.camera_still, name="still"),
]
