from django.urls import include, path, register_converter

from .forms import NoteForm, ReasonForm
from .views import (
    accounting,
    amendments,
    documents,
    drafts,
    fulfilment,
    listing_import,
    listings,
    negotiation,
    purchase_orders,
    returns,
    sales_orders,
    thread,
)

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
    path("listings/", listings.ListingListView.as_view(), name="listings"),
    path("listings/export.csv", listings.ListingExportView.as_view(), name="listings-export"),
    path("listings/import/", listing_import.ListingImportView.as_view(), name="listings-import"),
    path("listings/imports/<int:pk>/", listing_import.ListingImportDetailView.as_view(), name="listing-import"),
    path("listings/new/", listings.ListingEditView.as_view(), name="listing-new"),
    path("listings/<int:pk>/", listings.ListingEditView.as_view(), name="listing-edit"),
    path("listings/<int:pk>/activate/", listings.ListingActiveView.as_view(active=True), name="listing-activate"),
    path("listings/<int:pk>/deactivate/", listings.ListingActiveView.as_view(active=False), name="listing-deactivate"),
    path("settings/accounting/", accounting.AccountingCodesView.as_view(), name="accounting"),
    path(
        "settings/accounting/<str:kind>/<int:pk>/toggle/",
        accounting.AccountingCodeToggleView.as_view(),
        name="accounting-toggle",
    ),
    # The customer's purchase orders.
    path("purchase-orders/", purchase_orders.PurchaseOrderListView.as_view(), name="po-list"),
    path("purchase-orders/export.csv", purchase_orders.PurchaseOrderListView.as_view(csv=True), name="po-export"),
    path("purchase-orders/new/", purchase_orders.PurchaseOrderCreateView.as_view(), name="po-new"),
    path("purchase-orders/<str:number>/", purchase_orders.PurchaseOrderDetailView.as_view(), name="po-detail"),
    path("purchase-orders/<str:number>/edit/", drafts.PurchaseOrderEditView.as_view(), name="po-edit"),
    path("purchase-orders/<str:number>/lines/", drafts.LineSaveView.as_view(), name="po-line-add"),
    path("purchase-orders/<str:number>/lines/paste/", drafts.PasteLinesView.as_view(), name="po-lines-paste"),
    path("purchase-orders/<str:number>/order-again/", drafts.OrderAgainView.as_view(), name="po-order-again"),
    path("purchase-orders/<str:number>/lines/preview/", drafts.LinePreviewView.as_view(), name="po-line-preview"),
    path("purchase-orders/<str:number>/lines/picker/", drafts.ListingPickerView.as_view(), name="po-listing-picker"),
    path("purchase-orders/<str:number>/lines/<int:pk>/", drafts.LineSaveView.as_view(), name="po-line-edit"),
    path("purchase-orders/<str:number>/lines/<int:pk>/remove/", drafts.LineRemoveView.as_view(), name="po-line-remove"),
    path(
        "purchase-orders/<str:number>/submit/",
        purchase_orders.PurchaseOrderActionView.as_view(action="submit"),
        name="po-submit",
    ),
    path(
        "purchase-orders/<str:number>/revise/",
        purchase_orders.PurchaseOrderActionView.as_view(action="revise"),
        name="po-revise",
    ),
    path(
        "purchase-orders/<str:number>/confirm/",
        purchase_orders.PurchaseOrderActionView.as_view(action="confirm"),
        name="po-confirm",
    ),
    path(
        "purchase-orders/<str:number>/request-changes/",
        purchase_orders.PurchaseOrderActionView.as_view(action="request_changes", form_class=NoteForm),
        name="po-request-changes",
    ),
    path(
        "purchase-orders/<str:number>/cancel/",
        purchase_orders.PurchaseOrderActionView.as_view(action="cancel", form_class=ReasonForm),
        name="po-cancel",
    ),
    path("purchase-orders/<str:number>/receive/", fulfilment.ReceiptCreateView.as_view(), name="po-receive"),
    path("purchase-orders/<str:number>/amend/", amendments.AmendmentCreateView.as_view(), name="po-amend"),
    path(
        "purchase-orders/<str:number>/amendments/<int:amendment>/withdraw/",
        amendments.AmendmentWithdrawView.as_view(),
        name="amendment-withdraw",
    ),
    path(
        "sales-orders/<str:number>/amendments/<int:amendment>/accept/",
        amendments.AmendmentAcceptView.as_view(),
        name="amendment-accept",
    ),
    path(
        "sales-orders/<str:number>/amendments/<int:amendment>/decline/",
        amendments.AmendmentDeclineView.as_view(),
        name="amendment-decline",
    ),
    path("purchase-orders/<str:number>/returns/new/", returns.ReturnRequestCreateView.as_view(), name="return-new"),
    path(
        "purchase-orders/<str:number>/returns/<int:return_number>/withdraw/",
        returns.ReturnWithdrawView.as_view(),
        name="return-withdraw",
    ),
    path(
        "purchase-orders/<str:number>/returns/<int:return_number>/ship/",
        returns.ReturnShipView.as_view(),
        name="return-ship",
    ),
    path(
        "sales-orders/<str:number>/returns/<int:return_number>/accept/",
        returns.ReturnAcceptView.as_view(),
        name="return-accept",
    ),
    path(
        "sales-orders/<str:number>/returns/<int:return_number>/decline/",
        returns.ReturnDeclineView.as_view(),
        name="return-decline",
    ),
    path(
        "sales-orders/<str:number>/returns/<int:return_number>/receive/",
        returns.ReturnReceiveView.as_view(),
        name="return-receive",
    ),
    path("purchase-orders/<str:number>/share/", purchase_orders.PurchaseOrderShareView.as_view(), name="po-share"),
    path(
        "purchase-orders/<str:number>/unshare/",
        purchase_orders.PurchaseOrderShareView.as_view(share=False),
        name="po-unshare",
    ),
    # The supplier's sales orders.
    path("sales-orders/", sales_orders.SalesOrderListView.as_view(), name="so-list"),
    path("sales-orders/export.csv", sales_orders.SalesOrderListView.as_view(csv=True), name="so-export"),
    path("sales-orders/<str:number>/", sales_orders.SalesOrderDetailView.as_view(), name="so-detail"),
    path("sales-orders/<str:number>/proposal/", negotiation.ProposalSaveView.as_view(), name="so-proposal"),
    path("sales-orders/<str:number>/accept/", negotiation.SalesOrderAcceptView.as_view(), name="so-accept"),
    path("sales-orders/<str:number>/decline/", negotiation.SalesOrderDeclineView.as_view(), name="so-decline"),
    path("sales-orders/<str:number>/ship/", fulfilment.ShipmentCreateView.as_view(), name="so-ship"),
    # Both sides: thread, internal notes, revisions, PDF.
    path(f"{SIDES}/<str:number>/thread/", thread.ThreadPostView.as_view(), name="thread-post"),
    path(f"{SIDES}/<str:number>/notes/", thread.ThreadPostView.as_view(internal=True), name="note-post"),
    path(f"{SIDES}/<str:number>/revisions/", documents.RevisionsView.as_view(), name="revisions"),
    path(f"{SIDES}/<str:number>/amendments/", amendments.AmendmentsView.as_view(), name="amendments"),
    path(f"{SIDES}/<str:number>/returns/", returns.ReturnsView.as_view(), name="returns"),
    path(
        f"{SIDES}/<str:number>/returns/<int:return_number>/attachments/<int:pk>/",
        returns.ReturnAttachmentView.as_view(),
        name="return-attachment",
    ),
    path(f"{SIDES}/<str:number>/pdf/", documents.OrderPdfView.as_view(), name="pdf"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
