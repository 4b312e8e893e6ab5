"""Every tenant-scoped read of the billing app. "Missing" and "not yours" are one 404."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import exchange_rates, gather_in_base, tolerances_for
from orders import selectors as order_selectors
from orders.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine
from procurement.figures import ZERO, ByMonth, Gathered, Series, Unconverted, months_back

from . import matching
from .models import Bill, BillMatch, CreditNote, DebitNote, FxDifference, Invoice, Payment

OVERDUE = "overdue"
LIVE = "live"  # not a status: every document but the cancelled ones (what Home's charts add up)


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


def _search(
    docs: QuerySet,
    *,
    status,
    counterparty: dict,
    q,
    date_from,
    date_to,
    sort,
    sorts,
    date_field,
    open_states,
    numbers: tuple[str, ...],
    of: str = "",
):
    """The bills, invoices, debit notes or credit notes that the filter bar asks for. ``status``
    is the document's, or (``of``: ``"bill__"``, ``"invoice__"``) that of the bill or invoice a
    note reduces; a search term is looked for in the number, the order's number, the lines and
    the ``numbers`` fields (other documents' numbers)."""
    if status == OVERDUE:
        docs = docs.filter(**{f"{of}status__in": open_states, f"{of}due_date__lt": timezone.localdate()})
    elif status == LIVE:
        docs = docs.exclude(**{f"{of}status": "cancelled"})
    elif status:
        docs = docs.filter(**{f"{of}status": status})
    docs = docs.filter(**{k: v for k, v in counterparty.items() if v})
    if date_from:
        docs = docs.filter(**{f"{date_field}__gte": date_from})
    if date_to:
        docs = docs.filter(**{f"{date_field}__lte": date_to})
    for term in q.split()[:6]:
        match = (
            Q(number__icontains=term)
            | Q(purchase_order__number__icontains=term)
            | Q(lines__description__icontains=term)
            | Q(lines__sku__iexact=term)
        )
        for field in numbers:
            match |= Q(**{f"{field}__icontains": term})
        docs = docs.filter(match).distinct()
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
        numbers=("supplier_reference",),
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
        numbers=("sales_order__number",),
    )


# ------------------------------------------------------------------------ credit and debit notes

DEBIT_NOTE_SORTS = {
    **{
        key: value for key, value in BILL_SORTS.items() if key.lstrip("-") in ("number", "supplier", "total", "created")
    },
    "date": ("note_date", "id"),
    "-date": ("-note_date", "-id"),
}
CREDIT_NOTE_SORTS = {
    key.replace("supplier", "customer"): [f.replace("supplier", "customer") for f in value]
    for key, value in DEBIT_NOTE_SORTS.items()
}


def debit_notes_of(customer: Organization) -> QuerySet[DebitNote]:
    return DebitNote.objects.filter(customer=customer)


def credit_notes_of(supplier: Organization) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(supplier=supplier)


def search_debit_notes(
    notes: QuerySet[DebitNote], *, status="", supplier=None, q="", date_from=None, date_to=None, sort="-created"
) -> QuerySet[DebitNote]:
    """Filter and sort a customer's debit notes; ``status`` is the bill's (or "overdue", "live");
    dates are the notes'."""
    return _search(
        notes.select_related("supplier", "bill", "purchase_order", "return_request"),
        status=status,
        counterparty={"supplier": supplier},
        q=q,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        sorts=DEBIT_NOTE_SORTS,
        date_field="note_date",
        open_states=Bill.OPEN_STATES,
        numbers=("supplier_reference", "bill__number", "return_request__rma_number"),
        of="bill__",
    )


def search_credit_notes(
    notes: QuerySet[CreditNote], *, status="", customer=None, q="", date_from=None, date_to=None, sort="-created"
) -> QuerySet[CreditNote]:
    """Filter and sort a supplier's credit notes; ``status`` is the invoice's (or "overdue",
    "live"); dates are the notes'."""
    return _search(
        notes.select_related("customer", "invoice__sales_order", "purchase_order", "return_request"),
        status=status,
        counterparty={"customer": customer},
        q=q,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        sorts=CREDIT_NOTE_SORTS,
        date_field="note_date",
        open_states=(Invoice.Status.OPEN,),
        numbers=("invoice__number", "invoice__sales_order__number", "return_request__rma_number"),
        of="invoice__",
    )


def debit_note_for(*, organization: Organization, number: str) -> DebitNote:
    note = (
        DebitNote.objects.select_related(
            "customer", "supplier", "bill", "credit_note", "purchase_order", "return_request"
        )
        .filter(customer=organization, number=number)
        .first()
    )
    if note is None:
        raise Http404("No such debit note.")
    return note


def credit_note_for(*, organization: Organization, number: str) -> CreditNote:
    note = (
        CreditNote.objects.select_related(
            "customer", "supplier", "invoice__sales_order", "purchase_order", "return_request"
        )
        .filter(supplier=organization, number=number)
        .first()
    )
    if note is None:
        raise Http404("No such credit note.")
    return note


def debit_notes_of_bill(bill: Bill) -> list[DebitNote]:
    """The bill's debit notes, oldest first, with their returns (one query)."""
    return list(
        DebitNote.objects.filter(bill=bill, customer_id=bill.customer_id)
        .select_related("return_request")
        .order_by("created_at", "pk")
    )


def credit_notes_of_invoice(invoice: Invoice) -> list[CreditNote]:
    """The invoice's credit notes, oldest first, with their returns (one query)."""
    return list(
        CreditNote.objects.filter(invoice=invoice, supplier_id=invoice.supplier_id)
        .select_related("return_request")
        .order_by("created_at", "pk")
    )


def debit_notes_of_order(po: PurchaseOrder) -> QuerySet[DebitNote]:
    """The customer's debit notes of an order (its Returns tab)."""
    return DebitNote.objects.filter(purchase_order=po, customer_id=po.customer_id).order_by("created_at", "pk")


def credit_notes_of_order(po: PurchaseOrder) -> QuerySet[CreditNote]:
    """The supplier's credit notes of an order (its Returns tab)."""
    return CreditNote.objects.filter(purchase_order=po, supplier_id=po.supplier_id).order_by("created_at", "pk")


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


CREDITS_DAYS = 30  # Home's "Credits issued": the notes of the last 30 days


def credits_since(today: date) -> date:
    return today - timedelta(days=CREDITS_DAYS - 1)


def inbox_counts(organization: Organization, *, customer: bool, supplier: bool) -> dict:
    """The home page's rows, with their amounts in the base currency (at the latest rates
    recorded; ``unconverted`` lists what none converts): bills to pay — how many, their balance
    net of returns, due in the next 7 days, overdue — (one query), the debit notes of the last
    30 days (one more); payments to verify (one more), open and overdue invoices (one more), the
    credit notes of the last 30 days (one more); and one query per foreign currency met."""
    today = timezone.localdate()
    week = today + timedelta(days=6)
    counts: dict = {}
    if customer:
        balance = F("total") - F("credited_total") - F("paid_total")
        rows = (
            Bill.objects.filter(customer=organization, status__in=Bill.OPEN_STATES)
            .values("currency")
            .annotate(
                n=Count("pk"),
                overdue=Count("pk", filter=Q(due_date__lt=today)),
                week=Count("pk", filter=Q(due_date__gte=today, due_date__lte=week)),
                balance=Sum(balance),
                overdue_balance=Sum(balance, filter=Q(due_date__lt=today)),
                week_balance=Sum(balance, filter=Q(due_date__gte=today, due_date__lte=week)),
            )
            .order_by()
        )
        amounts = _today_in_base(organization, rows, today, ("balance", "overdue_balance", "week_balance"))
        counts.update(
            to_pay=sum(row["n"] for row in rows),
            bills_overdue=sum(row["overdue"] for row in rows),
            bills_due_week=sum(row["week"] for row in rows),
            to_pay_amount=amounts.get("balance"),
            bills_overdue_amount=amounts.get("overdue_balance"),
            bills_due_week_amount=amounts.get("week_balance"),
            bills_unconverted=amounts.unconverted,
        )
        counts.update(_credits(organization, debit_notes_of(organization), today, "debit_notes_recent"))
    if supplier:
        counts["to_verify"] = Payment.objects.filter(supplier=organization, status=Payment.Status.PENDING).count()
        # What the customer has not paid yet, as verified, of what the invoice asks net of credit notes.
        unpaid = F("total") - F("credited_total") - F("bill__verified_total")
        rows = (
            Invoice.objects.filter(supplier=organization, status=Invoice.Status.OPEN)
            .exclude(bill__status=Bill.Status.CANCELLED)  # the customer bills it otherwise now
            .values("currency")
            .annotate(
                n=Count("pk"),
                overdue=Count("pk", filter=Q(due_date__lt=today)),
                open_total=Sum(unpaid),
                overdue_total=Sum(unpaid, filter=Q(due_date__lt=today)),
            )
            .order_by()
        )
        amounts = _today_in_base(organization, rows, today, ("open_total", "overdue_total"))
        counts.update(
            invoices_open=sum(row["n"] for row in rows),
            invoices_overdue=sum(row["overdue"] for row in rows),
            invoices_open_amount=amounts.get("open_total"),
            invoices_overdue_amount=amounts.get("overdue_total"),
            invoices_unconverted=amounts.unconverted,
        )
        counts.update(_credits(organization, credit_notes_of(organization), today, "credit_notes_recent"))
    return counts


def _credits(organization: Organization, notes: QuerySet, today: date, key: str) -> dict:
    """How many notes of the last 30 days, and their amount in the base currency (one query, and
    one per foreign currency met)."""
    since = credits_since(today)
    rows = (
        notes.filter(note_date__gte=since, note_date__lte=today)
        .values("currency")
        .annotate(n=Count("pk"), credited=Sum("total"))
        .order_by()
    )
    amounts = _today_in_base(organization, rows, today, ("credited",))
    return {
        key: sum(row["n"] for row in rows),
        f"{key}_amount": amounts.get("credited"),
        f"{key}_unconverted": amounts.unconverted,
        f"{key}_since": since,
    }


def _today_in_base(organization: Organization, rows, today: date, keys: tuple[str, ...]) -> Gathered:
    """The sums per currency ``rows`` added up per key in the base currency at today's rates;
    the documents (``n``) of a currency without a rate counted once."""
    return gather_in_base(
        organization=organization,
        into=Gathered(organization.base_currency),
        rows=[
            (key, row["currency"], today, row[key] or ZERO, row["n"] if key == keys[0] else 0)
            for key in keys
            for row in rows
        ],
    )


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


# ------------------------------------------------------------------------------ Home's charts


def spend_by_month(customer: Organization, *, today: date | None = None) -> ByMonth:
    """Home's chart: per month of the last ``MONTHS``, what the customer *committed* (its
    confirmed and later orders, by the month they were created, at the rate recorded on
    submission) and was *billed* (its bills not cancelled, by bill date, at its rate of the bill's
    day), in its base currency. Two queries, and one per foreign currency billed."""
    today = today or timezone.localdate()
    months = months_back(today)
    committed = order_selectors.gather_committed(
        customer, order_selectors.committed_by_day(customer, start=months[0], end=today), "month"
    )
    billed = _billed(bills_of(customer).exclude(status=Bill.Status.CANCELLED), "bill_date", customer, months[0], today)
    return _by_month(customer, months, [("committed", "Committed", committed), ("billed", "Billed", billed)])


def sales_by_month(supplier: Organization, *, today: date | None = None) -> ByMonth:
    """Home's chart: per month of the last ``MONTHS``, what the supplier *sold* (its confirmed
    and later sales orders, by the month they were created) and *invoiced* (its invoices not
    cancelled, by invoice date), in its base currency at its rates of each day. Two queries, and
    one per foreign currency met by each."""
    today = today or timezone.localdate()
    months = months_back(today)
    sold = gather_in_base(
        organization=supplier,
        into=Gathered(supplier.base_currency),
        rows=[
            (day.replace(day=1), currency, day, amount, count)
            for (day, _, _), currency, _, amount, count in order_selectors.sold_by_day(
                supplier, start=months[0], end=today
            )
        ],
    )
    invoiced = _billed(
        invoices_of(supplier).exclude(status=Invoice.Status.CANCELLED), "invoice_date", supplier, months[0], today
    )
    return _by_month(supplier, months, [("sold", "Sold", sold), ("invoiced", "Invoiced", invoiced)])


def _billed(docs: QuerySet, date_field: str, organization: Organization, start: date, end: date) -> Gathered:
    """Bills or invoices dated from ``start`` to ``end``, added up by month in the base currency."""
    rows = (
        docs.filter(**{f"{date_field}__gte": start, f"{date_field}__lte": end})
        .values(date_field, "currency")
        .annotate(amount=Sum("total"), n=Count("pk"))
        .order_by()
    )
    return gather_in_base(
        organization=organization,
        into=Gathered(organization.base_currency),
        rows=[
            (row[date_field].replace(day=1), row["currency"], row[date_field], row["amount"], row["n"]) for row in rows
        ],
    )


def _by_month(organization: Organization, months: list[date], series: list[tuple[str, str, Gathered]]) -> ByMonth:
    missing: Counter = Counter()
    for _, _, gathered in series:
        missing.update(gathered.missing)
    return ByMonth(
        currency=organization.base_currency,
        months=months,
        series=[Series(key, label, [gathered.get(month) for month in months]) for key, label, gathered in series],
        unconverted=[Unconverted(currency, count) for currency, count in sorted(missing.items())],
    )
