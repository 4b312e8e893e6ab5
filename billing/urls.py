from django.urls import include, path

from . import views

app_name = "billing"

org_urlpatterns = [
    # The customer's bills.
    path("bills/", views.BillListView.as_view(), name="bill-list"),
    path("bills/export.csv", views.BillListView.as_view(csv=True), name="bill-export"),
    path("bills/new/", views.BillCreateView.as_view(), name="bill-new"),
    path("bills/<str:number>/", views.BillDetailView.as_view(), name="bill-detail"),
    path("bills/<str:number>/edit/", views.BillEditView.as_view(), name="bill-edit"),
    path("bills/<str:number>/pay/", views.BillPayView.as_view(), name="bill-pay"),
    path("bills/<str:number>/match/", views.BillMatchView.as_view(), name="bill-match"),
    path("bills/<str:number>/matches/<int:pk>/unmatch/", views.BillUnmatchView.as_view(), name="bill-unmatch"),
    path("bills/<str:number>/cancel/", views.BillCancelView.as_view(), name="bill-cancel"),
    path("bills/<str:number>/pdf/", views.BillPdfView.as_view(), name="bill-pdf"),
    path("fx/", views.FxReportView.as_view(), name="fx-report"),
    path("fx/export.csv", views.FxReportView.as_view(csv=True), name="fx-export"),
    path("purchase-orders/<str:number>/mark-billed/", views.MarkBilledView.as_view(), name="po-mark-billed"),
    path("purchase-orders/<str:number>/unmark-billed/", views.UnmarkBilledView.as_view(), name="po-unmark-billed"),
    # The supplier's invoices and the payments it receives.
    path("invoices/", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/export.csv", views.InvoiceListView.as_view(csv=True), name="invoice-export"),
    path("invoices/<str:number>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<str:number>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("payments/", views.PaymentsReceivedView.as_view(), name="payments"),
    path("payments/<int:pk>/verify/", views.PaymentDecisionView.as_view(), name="payment-verify"),
    # Both sides: the proof of payment.
    path("payments/<int:pk>/attachment/", views.PaymentAttachmentView.as_view(), name="payment-attachment"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
