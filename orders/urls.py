from django.urls import include, path, register_converter

from . import views
from .forms import NoteForm, ReasonForm

app_name = "orders"


class SideConverter:
    """``purchase-orders`` (the customer's side of the pair) or ``sales-orders`` (the supplier's)."""

    regex = "purchase-orders|sales-orders"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(SideConverter, "side")
SIDES = "<side:side>"

org_urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="listings"),
    path("listings/export.csv", views.ListingExportView.as_view(), name="listings-export"),
    path("listings/import/", views.ListingImportView.as_view(), name="listings-import"),
    path("listings/imports/<int:pk>/", views.ListingImportDetailView.as_view(), name="listing-import"),
    path("listings/new/", views.ListingEditView.as_view(), name="listing-new"),
    path("listings/<int:pk>/", views.ListingEditView.as_view(), name="listing-edit"),
    path("listings/<int:pk>/activate/", views.ListingActiveView.as_view(active=True), name="listing-activate"),
    path("listings/<int:pk>/deactivate/", views.ListingActiveView.as_view(active=False), name="listing-deactivate"),
    path("settings/accounting/", views.AccountingCodesView.as_view(), name="accounting"),
    path(
        "settings/accounting/<str:kind>/<int:pk>/toggle/",
        views.AccountingCodeToggleView.as_view(),
        name="accounting-toggle",
    ),
    # The customer's purchase orders.
    path("purchase-orders/", views.PurchaseOrderListView.as_view(), name="po-list"),
    path("purchase-orders/export.csv", views.PurchaseOrderListView.as_view(csv=True), name="po-export"),
    path("purchase-orders/new/", views.PurchaseOrderCreateView.as_view(), name="po-new"),
    path("purchase-orders/<str:number>/", views.PurchaseOrderDetailView.as_view(), name="po-detail"),
    path("purchase-orders/<str:number>/edit/", views.PurchaseOrderEditView.as_view(), name="po-edit"),
    path("purchase-orders/<str:number>/lines/", views.LineSaveView.as_view(), name="po-line-add"),
    path("purchase-orders/<str:number>/lines/preview/", views.LinePreviewView.as_view(), name="po-line-preview"),
    path("purchase-orders/<str:number>/lines/picker/", views.ListingPickerView.as_view(), name="po-listing-picker"),
    path("purchase-orders/<str:number>/lines/<int:pk>/", views.LineSaveView.as_view(), name="po-line-edit"),
    path("purchase-orders/<str:number>/lines/<int:pk>/remove/", views.LineRemoveView.as_view(), name="po-line-remove"),
    path(
        "purchase-orders/<str:number>/submit/", views.PurchaseOrderActionView.as_view(action="submit"), name="po-submit"
    ),
    path(
        "purchase-orders/<str:number>/revise/", views.PurchaseOrderActionView.as_view(action="revise"), name="po-revise"
    ),
    path(
        "purchase-orders/<str:number>/confirm/",
        views.PurchaseOrderActionView.as_view(action="confirm"),
        name="po-confirm",
    ),
    path(
        "purchase-orders/<str:number>/request-changes/",
        views.PurchaseOrderActionView.as_view(action="request_changes", form_class=NoteForm),
        name="po-request-changes",
    ),
    path(
        "purchase-orders/<str:number>/cancel/",
        views.PurchaseOrderActionView.as_view(action="cancel", form_class=ReasonForm),
        name="po-cancel",
    ),
    path("purchase-orders/<str:number>/receive/", views.ReceiptCreateView.as_view(), name="po-receive"),
    path("purchase-orders/<str:number>/amend/", views.AmendmentCreateView.as_view(), name="po-amend"),
    path(
        "purchase-orders/<str:number>/amendments/<int:amendment>/withdraw/",
        views.AmendmentWithdrawView.as_view(),
        name="amendment-withdraw",
    ),
    path(
        "sales-orders/<str:number>/amendments/<int:amendment>/accept/",
        views.AmendmentAcceptView.as_view(),
        name="amendment-accept",
    ),
    path(
        "sales-orders/<str:number>/amendments/<int:amendment>/decline/",
        views.AmendmentDeclineView.as_view(),
        name="amendment-decline",
    ),
    path("purchase-orders/<str:number>/share/", views.PurchaseOrderShareView.as_view(), name="po-share"),
    path("purchase-orders/<str:number>/unshare/", views.PurchaseOrderShareView.as_view(share=False), name="po-unshare"),
    # The supplier's sales orders.
    path("sales-orders/", views.SalesOrderListView.as_view(), name="so-list"),
    path("sales-orders/export.csv", views.SalesOrderListView.as_view(csv=True), name="so-export"),
    path("sales-orders/<str:number>/", views.SalesOrderDetailView.as_view(), name="so-detail"),
    path("sales-orders/<str:number>/proposal/", views.ProposalSaveView.as_view(), name="so-proposal"),
    path("sales-orders/<str:number>/accept/", views.SalesOrderAcceptView.as_view(), name="so-accept"),
    path("sales-orders/<str:number>/decline/", views.SalesOrderDeclineView.as_view(), name="so-decline"),
    path("sales-orders/<str:number>/ship/", views.ShipmentCreateView.as_view(), name="so-ship"),
    # Both sides: thread, internal notes, revisions, PDF.
    path(f"{SIDES}/<str:number>/thread/", views.ThreadPostView.as_view(), name="thread-post"),
    path(f"{SIDES}/<str:number>/notes/", views.ThreadPostView.as_view(internal=True), name="note-post"),
    path(f"{SIDES}/<str:number>/revisions/", views.RevisionsView.as_view(), name="revisions"),
    path(f"{SIDES}/<str:number>/amendments/", views.AmendmentsView.as_view(), name="amendments"),
    path(f"{SIDES}/<str:number>/pdf/", views.OrderPdfView.as_view(), name="pdf"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
