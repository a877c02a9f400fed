from django.contrib import admin
from django.urls import path

admin.site.site_header = "crimebox"
admin.site.site_title = "crimebox"
admin.site.index_title = "Box administration"

urlpatterns = [
    path("", admin.site.urls),
]
