from django.urls import include, path

from . import views

app_name = "home"

org_urlpatterns = [
    path("", views.OrgHomeView.as_view(), name="org-home"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
