"""Every tenant-scoped read of the billing app. "Missing" and "not yours" are one 404."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import exchange_rates, tolerances_for
from orders.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine

from . import matching
from .models import Bill, BillMatch, FxDifference, Invoice, Payment

OVERDUE = "overdue"


def bill_of(po: PurchaseOrder) -> Bill | None:
    """The customer's bill of an order (None until the documents are made)."""
    return Bill.objects.filter(purchase_order=po, customer_id=po.customer_id).first()


def invoice_of(po: PurchaseOrder) -> Invoice | None:
    """The supplier's invoice of an order (None until the documents are made)."""
    return Invoice.objects.filter(purchase_order=po, supplier_id=po.supplier_id).first()


def bills_of(customer: Organization) -> QuerySet[Bill]:
    return Bill.objects.filter(customer=customer)


def invoices_of(supplier: Organization) -> QuerySet[Invoice]:
    return Invoice.objects.filter(supplier=supplier)


BILL_SORTS = {
    "number": ("number",),
    "-number": ("-number",),
    "supplier": ("supplier__name", "-created_at"),
    "-supplier": ("-supplier__name", "-created_at"),
    "due": ("due_date", "-id"),
    "-due": ("-due_date", "-id"),
    "total": ("total", "-id"),
    "-total": ("-total", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}
INVOICE_SORTS = {
    key.replace("supplier", "customer"): [f.replace("supplier", "customer") for f in value]
    for key, value in BILL_SORTS.items()
}


def _search(docs: QuerySet, *, status, counterparty: dict, q, date_from, date_to, sort, sorts, date_field, open_states):
    if status == OVERDUE:
        docs = docs.filter(status__in=open_states, due_date__lt=timezone.localdate())
    elif status:
        docs = docs.filter(status=status)
    docs = docs.filter(**{k: v for k, v in counterparty.items() if v})
    if date_from:
        docs = docs.filter(**{f"{date_field}__gte": date_from})
    if date_to:
        docs = docs.filter(**{f"{date_field}__lte": date_to})
    for term in q.split()[:6]:
        docs = docs.filter(
            Q(number__icontains=term)
            | Q(purchase_order__number__icontains=term)
            | Q(lines__description__icontains=term)
            | Q(lines__sku__iexact=term)
            | (Q(supplier_reference__icontains=term) if docs.model is Bill else Q(sales_order__number__icontains=term))
        )
        docs = docs.distinct()
    return docs.order_by(*sorts.get(sort, sorts["-created"]))


def search_bills(
    bills: QuerySet[Bill], *, status="", supplier=None, q="", date_from=None, date_to=None, sort="-created"
) -> QuerySet[Bill]:
    """Filter and sort a customer's bills; ``status`` may be "overdue"; dates are bill dates."""
    return _search(
        bills.select_related("supplier", "purchase_order"),
        status=status,
        counterparty={"supplier": supplier},
        q=q,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        sorts=BILL_SORTS,
        date_field="bill_date",
        open_states=Bill.OPEN_STATES,
    )


def search_invoices(
    invoices: QuerySet[Invoice], *, status="", customer=None, q="", date_from=None, date_to=None, sort="-created"
) -> QuerySet[Invoice]:
    return _search(
        invoices.select_related("customer", "purchase_order", "sales_order"),
        status=status,
        counterparty={"customer": customer},
        q=q,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        sorts=INVOICE_SORTS,
        date_field="invoice_date",
        open_states=(Invoice.Status.OPEN,),
    )


def bill_for(*, organization: Organization, number: str) -> Bill:
    bill = (
        Bill.objects.select_related(
            "customer", "supplier", "purchase_order__requester", "invoice", "location", "created_by", "cancelled_by"
        )
        .filter(customer=organization, number=number)
        .first()
    )
    if bill is None:
        raise Http404("No such bill.")
    return bill


def invoice_for(*, organization: Organization, number: str) -> Invoice:
    invoice = (
        Invoice.objects.select_related("customer", "supplier", "purchase_order", "sales_order")
        .filter(supplier=organization, number=number)
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def payment_for(*, organization: Organization, pk: int) -> Payment:
    """A payment the organization made or received (each sees its own side's)."""
    payment = (
        Payment.objects.select_related("bill", "invoice", "customer", "supplier", "recorded_by", "decided_by")
        .filter(Q(customer=organization) | Q(supplier=organization), pk=pk)
        .first()
    )
    if payment is None:
        raise Http404("No such payment.")
    return payment


def payment_to(*, supplier: Organization, pk: int) -> Payment:
    """A payment made to the supplier (what its receivables verify), or 404."""
    payment = payment_for(organization=supplier, pk=pk)
    if payment.supplier_id != supplier.pk:
        raise Http404("No such payment.")
    return payment


def payments_of(doc: Bill | Invoice) -> QuerySet[Payment]:
    return doc.payments.select_related("recorded_by", "decided_by").order_by("paid_on", "recorded_at", "pk")


def payments_received(supplier: Organization) -> QuerySet[Payment]:
    """Payments customers recorded to the supplier: those waiting first, then the newest."""
    return (
        Payment.objects.filter(supplier=supplier)
        .select_related("customer", "invoice", "bill", "recorded_by", "decided_by")
        .order_by("-status", "-recorded_at", "-pk")
    )


def matches_of(bill: Bill) -> QuerySet[BillMatch]:
    return bill.matches.select_related("purchase_order", "matched_by", "unmatched_by").order_by("matched_at", "pk")


def live_matches_to(po: PurchaseOrder) -> QuerySet[BillMatch]:
    """The bills by hand matched to the order now."""
    return po.bill_matches.filter(bill__customer_id=po.customer_id, unmatched_at__isnull=True).select_related(
        "bill", "matched_by"
    )


def payments_to_verify(invoice: Invoice) -> int:
    return invoice.payments.filter(supplier_id=invoice.supplier_id, status=Payment.Status.PENDING).count()


def matchable_orders(bill: Bill) -> QuerySet[PurchaseOrder]:
    """Confirmed, open orders of the bill's supplier and currency that are not marked billed."""
    from .services.billed import MATCHABLE

    return (
        PurchaseOrder.objects.filter(
            customer_id=bill.customer_id,
            supplier_id=bill.supplier_id,
            currency=bill.currency,
            status__in=MATCHABLE,
            billed_at__isnull=True,
        )
        .exclude(bill_matches__bill=bill, bill_matches__unmatched_at__isnull=True)
        .order_by("-created_at")
    )


def matchable_order(bill: Bill, pk) -> PurchaseOrder | None:
    """One of the customer's orders, by id, for matching (the service says whether it fits)."""
    return PurchaseOrder.objects.filter(customer_id=bill.customer_id, pk=pk).select_related("supplier").first()


def match_of_bill(bill: Bill, pk: int) -> BillMatch:
    match = bill.matches.filter(pk=pk).first()
    if match is None:
        raise Http404("No such match.")
    return match


def three_way(bill: Bill) -> matching.BillResult | None:
    """The bill's 3-way match, in a fixed number of queries; none for a cancelled bill (it
    bills nothing: its order is billed, and matched, by other bills)."""
    if bill.status == Bill.Status.CANCELLED:
        return None
    tolerances = tolerances_for(customer_id=bill.customer_id, supplier_id=bill.supplier_id)
    if bill.purchase_order_id:
        lines = list(bill.lines.all())
        po_lines = {line.pk: line for line in bill.purchase_order.lines.all()}
        return matching.match_bill(bill, lines, po_lines, tolerances)
    matches = list(matches_of(bill))
    ids = [m.purchase_order_id for m in matches if m.unmatched_at is None]
    po_lines: dict = {}
    if ids:
        for line in PurchaseOrderLine.objects.filter(purchase_order_id__in=ids):
            po_lines.setdefault(line.purchase_order_id, []).append(line)
    return matching.match_bill(bill, [], po_lines, tolerances, matches)


def inbox_counts(organization: Organization, *, customer: bool, supplier: bool) -> dict[str, int]:
    """The home page's rows: bills to pay and overdue (one query), payments to verify and
    invoices overdue (one more)."""
    today = timezone.localdate()
    counts: dict[str, int] = {}
    if customer:
        counts.update(
            Bill.objects.filter(customer=organization, status__in=Bill.OPEN_STATES).aggregate(
                to_pay=Count("pk"), bills_overdue=Count("pk", filter=Q(due_date__lt=today))
            )
        )
    if supplier:
        counts["to_verify"] = Payment.objects.filter(supplier=organization, status=Payment.Status.PENDING).count()
        counts["invoices_overdue"] = (
            Invoice.objects.filter(supplier=organization, status=Invoice.Status.OPEN, due_date__lt=today)
            .exclude(bill__status=Bill.Status.CANCELLED)  # the customer bills it otherwise now
            .count()
        )
    return counts


# ------------------------------------------------------------------------------ FX gain/loss


def fx_differences_of(bill: Bill) -> list[FxDifference]:
    """The FX figures recorded on a bill (one query)."""
    return list(
        FxDifference.objects.filter(bill=bill, organization_id=bill.customer_id)
        .select_related("receipt", "payment")
        .order_by("day", "kind", "pk")
    )


# A receipt line that values goods: some received in good condition, at a price.
VALUED = {"quantity__gt": 0, "po_line__unit_price__gt": 0}


def goods_receipts_of(bill: Bill, *, with_lines: bool = True) -> list[Receipt]:
    """The receipts of the bill's order that took goods in (a receipt of only damaged or short
    units values nothing); none for a bill entered by hand."""
    if not bill.purchase_order_id:
        return []
    receipts = (
        Receipt.objects.filter(purchase_order_id=bill.purchase_order_id, customer_id=bill.customer_id)
        .filter(Exists(ReceiptLine.objects.filter(receipt=OuterRef("pk"), **VALUED)))
        .order_by("received_on", "number")
    )
    if with_lines:
        receipts = receipts.prefetch_related(
            Prefetch("lines", ReceiptLine.objects.filter(**VALUED).select_related("po_line"))
        )
    return list(receipts)


def bills_missing_fx(organization: Organization, *, since: date | None = None) -> QuerySet[Bill]:
    """The organization's live bills in a foreign currency with a receipt of goods or a
    payment that has no FX figure yet — and, with ``since`` (the first day of rates that just
    arrived), those with a figure measured on or after it at an earlier day's rate, which the
    new rates may replace (one query)."""
    receipts_without = (
        Receipt.objects.filter(purchase_order_id=OuterRef("purchase_order_id"), customer_id=organization.pk)
        .filter(Exists(ReceiptLine.objects.filter(receipt=OuterRef("pk"), **VALUED)))
        .exclude(Exists(FxDifference.objects.filter(bill_id=OuterRef(OuterRef("pk")), receipt_id=OuterRef("pk"))))
    )
    payments_without = (
        Payment.objects.filter(bill_id=OuterRef("pk"))
        .exclude(status=Payment.Status.DISPUTED)
        .exclude(Exists(FxDifference.objects.filter(payment_id=OuterRef("pk"))))
    )
    wanting = Exists(receipts_without) | Exists(payments_without)
    if since is not None:
        earlier = Q(from_date__gte=since, from_rate_day__lt=F("from_date")) | Q(
            to_date__gte=since, to_rate_day__lt=F("to_date")
        )
        wanting |= Exists(FxDifference.objects.filter(earlier, bill_id=OuterRef("pk")))
    return (
        Bill.objects.filter(customer=organization)
        .select_related("customer")
        .exclude(status=Bill.Status.CANCELLED)
        .exclude(currency=organization.base_currency)
        .filter(wanting)
        .order_by("pk")
    )


def fx_report(
    *, organization: Organization, date_from: date, date_to: date, supplier_id: int | None = None
) -> list[dict]:
    """The customer's FX gains and losses by month and supplier (one query): receipt → invoice,
    invoice → payment and the net, per base currency (one, unless the base currency changed).
    Cancelled bills do not count."""
    rows = FxDifference.objects.filter(organization=organization, day__gte=date_from, day__lte=date_to).exclude(
        bill__status=Bill.Status.CANCELLED
    )
    if supplier_id:
        rows = rows.filter(supplier_id=supplier_id)
    kind = FxDifference.Kind
    return list(
        rows.annotate(month=TruncMonth("day"))
        .values("month", "supplier_id", "supplier__name", "base_currency")
        .annotate(
            receipt_invoice=Sum("gain", filter=Q(kind=kind.RECEIPT_INVOICE)),
            invoice_payment=Sum("gain", filter=Q(kind=kind.INVOICE_PAYMENT)),
            net=Sum("gain"),
            figures=Count("pk"),
        )
        .order_by("month", "supplier__name", "supplier_id", "base_currency")
    )


def bill_fx(bill: Bill, *, payments: list[Payment]):
    """The bill page's *Exchange* section (``billing.fx.BillFx``), or None for a bill in the
    customer's base currency. Three queries: the figures, the receipts, the rates."""
    from .fx import days_to_explain, describe

    base = bill.customer.base_currency
    if bill.currency == base:
        return None
    rows = fx_differences_of(bill)
    receipts = goods_receipts_of(bill, with_lines=False)
    days = days_to_explain(bill, rows, receipts, payments)
    rates = exchange_rates(organization=bill.customer_id, currency=bill.currency, base_currency=base, days=days)
    return describe(bill, base, rows, receipts, payments, rates)
