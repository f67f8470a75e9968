from django.urls import path

from . import views

urlpatterns = [
    path("bench/incr", views.incr),
    path("bench/read", views.read),
    path("bench/login", views.login),
    path("bench/logout", views.logout),
]
