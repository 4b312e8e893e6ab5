from django.urls import include, path

from . import views

app_name = "orders"

org_urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="listings"),
    path("listings/export.csv", views.ListingExportView.as_view(), name="listings-export"),
    path("listings/import/", views.ListingImportView.as_view(), name="listings-import"),
    path("listings/new/", views.ListingEditView.as_view(), name="listing-new"),
    path("listings/<int:pk>/", views.ListingEditView.as_view(), name="listing-edit"),
    path(
        "listings/<int:pk>/activate/", views.ListingActiveView.as_view(active=True), name="listing-activate"
    ),
    path(
        "listings/<int:pk>/deactivate/",
        views.ListingActiveView.as_view(active=False),
        name="listing-deactivate",
    ),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
