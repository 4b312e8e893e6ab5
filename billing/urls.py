from django.urls import include, path

from .views import documents, notes

app_name = "billing"

org_urlpatterns = [
    # The customer's bills.
    path("bills/", documents.BillListView.as_view(), name="bill-list"),
    path("bills/export.csv", documents.BillListView.as_view(csv=True), name="bill-export"),
    path("bills/new/", documents.BillCreateView.as_view(), name="bill-new"),
    path("bills/<str:number>/", documents.BillDetailView.as_view(), name="bill-detail"),
    path("bills/<str:number>/edit/", documents.BillEditView.as_view(), name="bill-edit"),
    path("bills/<str:number>/pay/", documents.BillPayView.as_view(), name="bill-pay"),
    path("bills/<str:number>/match/", documents.BillMatchView.as_view(), name="bill-match"),
    path("bills/<str:number>/matches/<int:pk>/unmatch/", documents.BillUnmatchView.as_view(), name="bill-unmatch"),
    path("bills/<str:number>/cancel/", documents.BillCancelView.as_view(), name="bill-cancel"),
    path("bills/<str:number>/pdf/", documents.BillPdfView.as_view(), name="bill-pdf"),
    # The customer's debit notes (the supplier's credit notes of returns, on its bills).
    path("debit-notes/", notes.DebitNoteListView.as_view(), name="debit-note-list"),
    path("debit-notes/export.csv", notes.DebitNoteListView.as_view(csv=True), name="debit-note-export"),
    path("debit-notes/<str:number>/", notes.DebitNoteDetailView.as_view(), name="debit-note-detail"),
    path("debit-notes/<str:number>/pdf/", notes.DebitNotePdfView.as_view(), name="debit-note-pdf"),
    path("fx/", documents.FxReportView.as_view(), name="fx-report"),
    path("fx/export.csv", documents.FxReportView.as_view(csv=True), name="fx-export"),
    path("purchase-orders/<str:number>/mark-billed/", documents.MarkBilledView.as_view(), name="po-mark-billed"),
    path("purchase-orders/<str:number>/unmark-billed/", documents.UnmarkBilledView.as_view(), name="po-unmark-billed"),
    # The supplier's invoices and the payments it receives.
    path("invoices/", documents.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/export.csv", documents.InvoiceListView.as_view(csv=True), name="invoice-export"),
    path("invoices/<str:number>/", documents.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<str:number>/pdf/", documents.InvoicePdfView.as_view(), name="invoice-pdf"),
    # The supplier's credit notes of returns, on its invoices.
    path("credit-notes/", notes.CreditNoteListView.as_view(), name="credit-note-list"),
    path("credit-notes/export.csv", notes.CreditNoteListView.as_view(csv=True), name="credit-note-export"),
    path("credit-notes/<str:number>/", notes.CreditNoteDetailView.as_view(), name="credit-note-detail"),
    path("credit-notes/<str:number>/pdf/", notes.CreditNotePdfView.as_view(), name="credit-note-pdf"),
    path("payments/", documents.PaymentsReceivedView.as_view(), name="payments"),
    path("payments/<int:pk>/verify/", documents.PaymentDecisionView.as_view(), name="payment-verify"),
    # Both sides: the proof of payment.
    path("payments/<int:pk>/attachment/", documents.PaymentAttachmentView.as_view(), name="payment-attachment"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
