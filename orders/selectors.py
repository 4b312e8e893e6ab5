"""Every tenant-scoped read of the orders app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Greatest, Lower, TruncDate
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user, get_users_with_perms

from accounts.models import Organization
from accounts.permissions import can
from accounts.selectors import gather_in_base
from procurement.figures import ByParty, Gathered, by_party, months_back
from procurement.lookups import one_or_404
from procurement.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from procurement.validators import parse_integer

from . import interfaces, pricing
from .models import (
    Amendment,
    CostCenter,
    GLAccount,
    InternalNote,
    Listing,
    ListingImport,
    OrderEvent,
    Proposal,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ReturnAttachment,
    ReturnLine,
    ReturnRequest,
    Revision,
    SalesOrder,
    Shipment,
    ShipmentLine,
)

SORT_LABELS = {"sku": "SKU", "name": "name", "price": "unit price", "updated": "last update"}


_SUM = DecimalField(max_digits=AMOUNT_MAX_DIGITS + 8, decimal_places=AMOUNT_DECIMAL_PLACES)


def both_ways(**columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Sort keys for a list page: ``key`` ascending and ``-key`` descending (every field flipped)."""
    sorts = {}
    for key, fields in columns.items():
        sorts[key] = fields
        sorts[f"-{key}"] = tuple(f.removeprefix("-") if f.startswith("-") else f"-{f}" for f in fields)
    return sorts


LISTING_SORTS = both_ways(
    sku=("sku", "pk"), name=("name", "pk"), price=("unit_price", "pk"), updated=("updated_at", "pk")
)


def listings_of(supplier: Organization) -> QuerySet[Listing]:
    return Listing.objects.filter(supplier=supplier)


def listing_for(*, supplier: Organization, pk: int) -> Listing:
    listing = listings_of(supplier).prefetch_related("price_breaks", "customer_prices__customer").filter(pk=pk).first()
    if listing is None:
        raise Http404("No such listing.")
    return listing


def listing_import_for(*, organization: Organization, pk: int) -> ListingImport:
    """One of the organization's listing imports (without the file itself), or 404."""
    return one_or_404(
        ListingImport.objects.filter(organization=organization, pk=pk).select_related("created_by").defer("data"),
        "No such import.",
    )


def recent_listing_imports(organization: Organization, *, count: int = 5) -> list[ListingImport]:
    return list(
        ListingImport.objects.filter(organization=organization)
        .select_related("created_by")
        .defer("data", "errors")[:count]
    )


def search_listings(
    supplier: Organization, *, q: str = "", status: str = "", unit: str = "", sort: str = "sku"
) -> QuerySet[Listing]:
    listings = listings_of(supplier).annotate(break_count=Count("price_breaks"))
    for term in q.split()[:8]:  # every word must match, in any of the text fields
        listings = listings.filter(Q(sku__icontains=term) | Q(name__icontains=term) | Q(description__icontains=term))
    if status == "active":
        listings = listings.filter(is_active=True)
    elif status == "inactive":
        listings = listings.filter(is_active=False)
    if unit:
        listings = listings.filter(unit=unit)
    return listings.order_by(*LISTING_SORTS.get(sort, LISTING_SORTS["sku"]))


def listing_counts(supplier: Organization) -> dict[str, int]:
    return listings_of(supplier).aggregate(total=Count("pk"), active=Count("pk", filter=Q(is_active=True)))


# ------------------------------------------------------------------------------ the pair

PO_SORTS = both_ways(
    number=("number",), created=("created_at", "pk"), total=("total", "pk"), supplier=("supplier__name", "-created_at")
)
SO_SORTS = both_ways(
    number=("number",),
    created=("created_at", "pk"),
    total=("purchase_order__total", "pk"),
    customer=("customer__name", "-created_at"),
)


def purchase_orders_of(customer: Organization) -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.filter(customer=customer)


def purchase_order_for(*, customer: Organization, number: str) -> PurchaseOrder:
    """One of the customer's orders by number, or 404; ``has_bill_matches`` says whether bills
    entered by hand are matched to it (so that the page asks for them only then)."""
    po = one_or_404(
        interfaces.billing()
        .with_bill_matches(
            purchase_orders_of(customer).select_related("supplier", "requester", "connection", "ship_to", "sales_order")
        )
        .filter(number=number),
        "No such purchase order.",
    )
    po.customer = customer
    return po


def search_purchase_orders(
    orders: QuerySet[PurchaseOrder],
    *,
    status="",
    supplier=None,
    q="",
    date_from=None,
    date_to=None,
    sort="-created",
    received="",
) -> QuerySet[PurchaseOrder]:
    """Filter and sort ``orders`` (already scoped: see ``visible_purchase_orders``);
    ``received`` is a goods-received status."""
    if status in RETURN_FILTERS:
        orders, status = _with_return_at(orders, status, "pk"), ""
    orders = _filtered(
        orders.select_related("supplier", "requester"), status, {"supplier": supplier}, date_from, date_to
    )
    if received:
        orders = orders.filter(receipt_status=received)
    for term in q.split()[:6]:  # every word matches the number, or a line's SKU or item
        orders = orders.filter(Q(number__icontains=term) | Exists(_lines_matching(term, "pk")))
    return orders.order_by(*PO_SORTS.get(sort, PO_SORTS["-created"]))


def _filtered(orders: QuerySet, status: str, counterparty: dict, date_from, date_to) -> QuerySet:
    """The filter bar shared by both order lists: status (or ``CONFIRMED_AND_LATER``),
    counterparty, creation dates."""
    if status == CONFIRMED_AND_LATER:
        orders = orders.filter(status__in=CONFIRMED_STATUSES[orders.model])
    elif status:
        orders = orders.filter(status=status)
    orders = orders.filter(**{field: value for field, value in counterparty.items() if value})
    if date_from:
        orders = orders.filter(created_at__date__gte=date_from)
    if date_to:
        orders = orders.filter(created_at__date__lte=date_to)
    return orders


def _lines_matching(term: str, order_pk: str) -> QuerySet[PurchaseOrderLine]:
    """The lines of the outer order whose item or SKU contains ``term`` (an EXISTS, not a
    join: no duplicate rows, no DISTINCT over every line)."""
    return PurchaseOrderLine.objects.filter(
        Q(description__icontains=term) | Q(sku__icontains=term), purchase_order=OuterRef(order_pk)
    )


def sales_orders_of(supplier: Organization) -> QuerySet[SalesOrder]:
    return SalesOrder.objects.filter(supplier=supplier)


def sales_order_for(*, supplier: Organization, number: str) -> SalesOrder:
    so = one_or_404(
        sales_orders_of(supplier)
        .select_related("customer", "purchase_order", "purchase_order__requester", "purchase_order__connection")
        .filter(number=number),
        "No such sales order.",
    )
    so.supplier = so.purchase_order.supplier = supplier
    so.purchase_order.customer = so.customer
    return so


AMENDMENT_TO_ANSWER = "amendment"
# Not a status either: the orders both sides confirmed, and those further on (what Home's charts
# count as committed by the customer and sold by the supplier).
CONFIRMED_AND_LATER = "confirmed_and_later"
CONFIRMED_STATUSES = {
    PurchaseOrder: [*PurchaseOrder.RECEIVABLE, PurchaseOrder.Status.CLOSED],
    SalesOrder: [*SalesOrder.SHIPPABLE, SalesOrder.Status.COMPLETED],
}


# Nor these: orders with a return at a step (the lists Home's rows of returns lead to).
RETURN_TO_ANSWER = "return_to_answer"
RETURN_TO_SHIP = "return_to_ship"
RETURN_ON_ITS_WAY = "return_on_its_way"
RETURN_FILTERS = {
    RETURN_TO_ANSWER: ReturnRequest.Status.REQUESTED,
    RETURN_TO_SHIP: ReturnRequest.Status.ACCEPTED,
    RETURN_ON_ITS_WAY: ReturnRequest.Status.SHIPPED,
}


def _with_return_at(orders: QuerySet, status: str, order_field: str) -> QuerySet:
    """``orders`` that have a return in the step of the pseudo-status ``status``."""
    returns = ReturnRequest.objects.filter(purchase_order_id=OuterRef(order_field), status=RETURN_FILTERS[status])
    return orders.filter(Exists(returns))


def _amendments_to_answer() -> QuerySet[Amendment]:
    return Amendment.objects.filter(purchase_order_id=OuterRef("purchase_order_id"), status=Amendment.Status.PROPOSED)


def search_sales_orders(
    supplier: Organization, *, status="", customer=None, q="", date_from=None, date_to=None, sort="-created"
) -> QuerySet[SalesOrder]:
    orders = sales_orders_of(supplier).select_related("customer", "purchase_order")
    if status == AMENDMENT_TO_ANSWER:  # not a status of the order: an amendment waits on it
        orders, status = orders.filter(Exists(_amendments_to_answer())), ""
    elif status in RETURN_FILTERS:
        orders, status = _with_return_at(orders, status, "purchase_order_id"), ""
    orders = _filtered(orders, status, {"customer": customer}, date_from, date_to)
    for term in q.split()[:6]:
        orders = orders.filter(
            Q(number__icontains=term)
            | Q(customer__name__icontains=term)
            | Q(purchase_order__number__icontains=term)
            | Exists(_lines_matching(term, "purchase_order_id"))
        )
    return orders.order_by(*SO_SORTS.get(sort, SO_SORTS["-created"]))


def lines_of(po: PurchaseOrder, *, coding: bool = True) -> list[PurchaseOrderLine]:
    """The order's lines; ``coding`` brings their cost centers and GL accounts (the buyer's side)."""
    lines = po.lines.all()
    return list(lines.select_related("cost_center", "gl_account") if coding else lines)


def revisions_of(po: PurchaseOrder) -> list[Revision]:
    return list(po.revisions.prefetch_related("lines").select_related("created_by"))


def latest_revisions_of(po: PurchaseOrder) -> list[Revision]:
    """The last two revisions, oldest first, with their lines: what an order page's redline compares."""
    latest = list(po.revisions.order_by("-number")[:2])[::-1]
    prefetch_related_objects(latest, "lines")
    return latest


def amendments_of(po: PurchaseOrder, *, supplier: bool = False) -> list[Amendment]:
    """The order's amendments, newest first, with their lines and who asked and answered. The
    supplier sees those it was asked (not those still in, or stopped by, internal approval)."""
    amendments = po.amendments.all()
    if supplier:
        amendments = amendments.filter(proposed_at__isnull=False)
    return list(amendments.select_related("requested_by", "decided_by").prefetch_related("lines"))


def amendment_for(po: PurchaseOrder, *, number: int) -> Amendment:
    """One amendment of an order the caller already reached through a scoped selector."""
    return one_or_404(po.amendments.filter(number=number), "No such amendment.")


def returns_of(po: PurchaseOrder) -> list[ReturnRequest]:
    """The order's returns, newest first, with their lines (and the order lines they return),
    their attachments and who asked, answered, shipped and received them."""
    return list(
        po.returns.select_related("requested_by", "decided_by", "shipped_by", "received_by").prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("po_line")), "attachments"
        )
    )


def return_for(po: PurchaseOrder, *, number: int) -> ReturnRequest:
    """One return of an order the caller already reached through a scoped selector, with its
    lines (and the order lines they return), its attachments and who asked and answered it."""
    return_request = one_or_404(
        po.returns.filter(number=number).select_related("requested_by", "decided_by"), "No such return."
    )
    return_request.purchase_order = po
    prefetch_related_objects(
        [return_request], Prefetch("lines", queryset=ReturnLine.objects.select_related("po_line")), "attachments"
    )
    return return_request


def return_attachment_for(return_request: ReturnRequest, *, pk: int) -> ReturnAttachment:
    """One file of a return the caller already reached through ``return_for``, or 404."""
    return one_or_404(return_request.attachments.filter(pk=pk), "No such attachment.")


def open_returns_of(po: PurchaseOrder) -> list[ReturnRequest]:
    """The order's returns not yet settled (asked, authorized, on their way back), oldest first:
    the notice of both order pages."""
    return list(po.returns.filter(status__in=ReturnRequest.OPEN).order_by("number"))


def returns_inbox(organization: Organization, *, customer: bool, supplier: bool) -> dict:
    """Home's rows of returns, in one query (none when neither side is asked for): the
    supplier's returns to answer (``returns_to_answer``) and those on their way back to it
    (``returns_coming_back``); the customer's authorized returns to ship back
    (``returns_to_ship``) and those on their way (``returns_on_their_way``). Each count comes
    with ``<key>_at``: the number of the one order they all belong to (its sales order's number
    on the supplier's side), else None — the row then leads to the filtered order list."""
    S = ReturnRequest.Status
    rows = {}
    if supplier:
        so_number = "purchase_order__sales_order__number"
        rows["returns_to_answer"] = (Q(supplier=organization, status=S.REQUESTED), so_number)
        rows["returns_coming_back"] = (Q(supplier=organization, status=S.SHIPPED), so_number)
    if customer:
        rows["returns_to_ship"] = (Q(customer=organization, status=S.ACCEPTED), "purchase_order__number")
        rows["returns_on_their_way"] = (Q(customer=organization, status=S.SHIPPED), "purchase_order__number")
    if not rows:
        return {}
    aggregates = {}
    for key, (where, number) in rows.items():
        aggregates[key] = Count("pk", filter=where)
        aggregates[f"{key}_orders"] = Count("purchase_order", distinct=True, filter=where)
        aggregates[f"{key}_at"] = Max(number, filter=where)
    scope = Q()
    if supplier:
        scope |= Q(supplier=organization)
    if customer:
        scope |= Q(customer=organization)
    found = ReturnRequest.objects.filter(scope, status__in=ReturnRequest.OPEN).aggregate(**aggregates)
    counts = {}
    for key in rows:
        counts[key] = found[key]
        counts[f"{key}_at"] = found[f"{key}_at"] if found[f"{key}_orders"] == 1 else None
    return counts


def thread_of(po: PurchaseOrder) -> list[OrderEvent]:
    return list(po.events.select_related("actor", "organization"))


def internal_notes_of(po: PurchaseOrder, organization: Organization) -> list[InternalNote]:
    return list(po.internal_notes.filter(organization=organization).select_related("author"))


def proposal_of(so: SalesOrder) -> Proposal | None:
    return Proposal.objects.filter(sales_order=so).prefetch_related("lines").first()


def cost_centers_of(customer: Organization) -> QuerySet[CostCenter]:
    return CostCenter.objects.filter(organization=customer, is_active=True)


def gl_accounts_of(customer: Organization) -> QuerySet[GLAccount]:
    return GLAccount.objects.filter(organization=customer, is_active=True)


def orderable_listings(po: PurchaseOrder, q: str = "") -> QuerySet[Listing]:
    """The supplier's active listings in the order's currency, for the listing picker."""
    listings = Listing.objects.filter(supplier_id=po.supplier_id, is_active=True, currency=po.currency)
    for term in q.split()[:6]:
        listings = listings.filter(Q(sku__icontains=term) | Q(name__icontains=term))
    return listings.order_by("sku")


def active_listings_by_sku(po: PurchaseOrder, skus: Iterable[str]) -> dict[str, Listing]:
    """The supplier's active listings (what its customers may order) whose SKU is one of
    ``skus`` in any case, by lower-cased SKU, their price breaks read: two queries for any number
    of SKUs. Any currency: the service says when a listing's is not the order's."""
    typed = {sku.strip() for sku in skus if sku.strip()}
    if not typed:
        return {}
    wanted = {sku.lower() for sku in typed}
    listings = (
        Listing.objects.filter(supplier_id=po.supplier_id, is_active=True)
        .annotate(sku_key=Lower("sku"))
        .filter(Q(sku_key__in=wanted) | Q(sku__in=typed))  # SQLite's lower() is ASCII only
        .prefetch_related("price_breaks")
    )
    return {listing.sku.lower(): listing for listing in listings if listing.sku.lower() in wanted}


def picker_listings(po: PurchaseOrder, q: str = "", *, limit: int = 50) -> list[Listing]:
    """The listing picker's choices: ``orderable_listings``, each with ``price``, what this
    customer pays for one (``pricing.unit_price``: its own price, if any), and ``cheaper_from``,
    the least quantity a price break lowers it at (or None). Three queries, whatever the count."""
    listings = list(orderable_listings(po, q).prefetch_related("price_breaks")[:limit])
    prices = pricing.customer_prices(listings, po.customer_id)
    for listing in listings:
        listing.price = pricing.unit_price(listing, quantity=Decimal(1), customer_id=po.customer_id, prices=prices)
        lower = [b.min_quantity for b in listing.price_breaks.all() if b.unit_price < listing.price]
        listing.cheaper_from = min(lower, default=None)
    return listings


def shipments_of(po: PurchaseOrder) -> list[Shipment]:
    """The order's shipments, oldest first, with their lines and whether each was received."""
    return list(
        po.shipments.select_related("created_by", "receipt").prefetch_related(
            Prefetch("lines", ShipmentLine.objects.select_related("po_line"))
        )
    )


def receipts_of(po: PurchaseOrder) -> list[Receipt]:
    """The order's receipts, oldest first, with their lines and the shipment each was against."""
    return list(
        po.receipts.select_related("created_by", "shipment").prefetch_related(
            Prefetch("lines", ReceiptLine.objects.select_related("po_line"))
        )
    )


def unreceived_shipment(po: PurchaseOrder, pk=None) -> Shipment | None:
    """A shipment of the order that has no receipt yet, with its lines: ``pk``'s, or without
    one the oldest (None for anything else)."""
    shipments = po.shipments.filter(receipt__isnull=True)
    if pk is not None:
        pk = parse_integer(pk, minimum=1)
        if pk is None:
            return None
        shipments = shipments.filter(pk=pk)
    return shipments.prefetch_related(Prefetch("lines", ShipmentLine.objects.select_related("po_line"))).first()


def unreceived_shipments_of(po: PurchaseOrder) -> list[Shipment]:
    return list(po.shipments.filter(receipt__isnull=True))


def _lines_to_replace() -> QuerySet[PurchaseOrderLine]:
    """Lines of the outer sales order whose damaged, short or returned units have not been sent
    again, while the customer still waits for them (``PurchaseOrderLine.left_to_ship`` in SQL)."""
    kept = F("quantity_received") - Greatest(Value(Decimal("0")), F("quantity_received_back") - F("quantity_damaged"))
    return PurchaseOrderLine.objects.filter(
        Q(quantity__gt=F("quantity_shipped") - F("quantity_damaged") - F("quantity_short") - F("quantity_replaced")),
        Q(quantity__gt=kept + F("quantity_credited")),
        purchase_order=OuterRef("purchase_order_id"),
        status=PurchaseOrderLine.Status.OPEN,
    )


def inbox_counts(organization: Organization) -> dict[str, int]:
    """What waits in the organization, one query per side."""
    counts = {}
    if organization.buys:
        counts.update(
            PurchaseOrder.objects.filter(customer=organization).aggregate(
                drafts=Count("pk", filter=Q(status=PurchaseOrder.Status.DRAFT)),
                to_confirm=Count("pk", filter=Q(status=PurchaseOrder.Status.SUPPLIER_ACCEPTED)),
                awaiting_supplier=Count("pk", filter=Q(status=PurchaseOrder.Status.SENT)),
                to_receive=Count("pk", filter=Q(status=PurchaseOrder.Status.CONFIRMED)),
                partly_received=Count("pk", filter=Q(status=PurchaseOrder.Status.PARTIALLY_RECEIVED)),
            )
        )
    if organization.sells:
        counts.update(
            SalesOrder.objects.filter(supplier=organization).aggregate(
                to_accept=Count("pk", filter=Q(status=SalesOrder.Status.NEW)),
                in_review=Count("pk", filter=Q(status=SalesOrder.Status.IN_REVIEW)),
                changes_requested=Count("pk", filter=Q(status=SalesOrder.Status.CHANGES_REQUESTED)),
                to_ship=Count("pk", filter=Q(status=SalesOrder.Status.CONFIRMED)),
                partly_shipped=Count("pk", filter=Q(status=SalesOrder.Status.PARTIALLY_SHIPPED)),
                to_replace=Count("pk", filter=Q(status=SalesOrder.Status.SHIPPED) & Q(Exists(_lines_to_replace()))),
                amendments=Count("pk", filter=Q(Exists(_amendments_to_answer()))),
            )
        )
    return counts


def visible_purchase_orders(membership) -> QuerySet[PurchaseOrder]:
    """Every PO of the organization for a role that shows them; otherwise only those an admin
    shared with this person (django-guardian, fetched in bulk as one query)."""
    orders = purchase_orders_of(membership.organization)
    if can(membership, "orders.view_purchaseorder"):
        return orders
    return get_objects_for_user(membership.user, "orders.view_purchaseorder", klass=orders, accept_global_perms=False)


def visible_purchase_order(membership, *, number: str) -> PurchaseOrder:
    po = purchase_order_for(customer=membership.organization, number=number)
    if not can(membership, "orders.view_purchaseorder") and not membership.user.has_perm(
        "orders.view_purchaseorder", po
    ):
        raise PermissionDenied("Your role does not show purchase orders, and this one was not shared with you.")
    return po


def shared_with(po: PurchaseOrder) -> list:
    """The colleagues an admin shared this order with."""
    return list(get_users_with_perms(po, only_with_perms_in=["view_purchaseorder"], with_group_users=False))


def accounting_codes_of(organization: Organization, kind: str) -> QuerySet:
    model = {"cost-centers": CostCenter, "gl-accounts": GLAccount}[kind]
    return model.objects.filter(organization=organization).order_by("-is_active", "code")


def accounting_code_for(*, organization: Organization, kind: str, pk: int):
    obj = accounting_codes_of(organization, kind).filter(pk=pk).first()
    if obj is None:
        raise Http404("No such code.")
    return obj


# ------------------------------------------------------------------------------ Home's figures


def committed_by_day(customer: Organization, *, start: date, end: date) -> list[dict]:
    """The customer's confirmed-and-later orders created from ``start`` to ``end`` (the day the
    order list's dates filter by), added up per day, supplier and currency: ``amount`` in the
    base currency at the rate recorded on submission, ``unmeasured`` the orders without one
    (``raw`` their total). One query."""
    return list(
        purchase_orders_of(customer)
        .filter(
            status__in=CONFIRMED_STATUSES[PurchaseOrder],
            created_at__date__gte=start,
            created_at__date__lte=end,
        )
        .annotate(day=TruncDate("created_at"))
        .values("day", "supplier_id", "supplier__name", "currency")
        .annotate(
            amount=Sum(F("total") * F("base_rate"), filter=Q(base_rate__isnull=False), output_field=_SUM),
            raw=Sum("total", filter=Q(base_rate__isnull=True)),
            unmeasured=Count("pk", filter=Q(base_rate__isnull=True)),
        )
        .order_by()
    )


def gather_committed(customer: Organization, rows: list[dict], key: str) -> Gathered:
    """``committed_by_day`` rows added up by ``key`` ("month" or "supplier") in the base currency."""
    gathered = Gathered(customer.base_currency)
    for row in rows:
        at = row["day"].replace(day=1) if key == "month" else row["supplier_id"]
        if row["amount"] is not None:
            gathered.add(at, row["amount"])
        if row["unmeasured"]:
            if row["currency"] == customer.base_currency:  # no rate needed
                gathered.add(at, row["raw"])
            else:
                gathered.miss(row["currency"], row["unmeasured"])
    return gathered


def sold_by_day(supplier: Organization, *, start: date, end: date) -> list[tuple]:
    """The supplier's confirmed-and-later sales orders created from ``start`` to ``end``, added
    up per day, customer and currency, as ``gather_in_base`` rows keyed ``(day, customer id,
    customer name)``. One query."""
    rows = (
        sales_orders_of(supplier)
        .filter(status__in=CONFIRMED_STATUSES[SalesOrder], created_at__date__gte=start, created_at__date__lte=end)
        .annotate(day=TruncDate("created_at"))
        .values("day", "customer_id", "customer__name", "purchase_order__currency")
        .annotate(amount=Sum("purchase_order__total"), count=Count("pk"))
        .order_by()
    )
    return [
        (
            (row["day"], row["customer_id"], row["customer__name"]),
            row["purchase_order__currency"],
            row["day"],
            row["amount"],
            row["count"],
        )
        for row in rows
    ]


def spend_by_supplier(customer: Organization, *, today: date | None = None) -> ByParty:
    """Home's chart: what the customer committed to each supplier over the last ``MONTHS``
    months (confirmed and later orders, by the day they were created), the ``TOP`` largest and
    the rest, in its base currency at the rates recorded on submission. One query."""
    today = today or timezone.localdate()
    start = months_back(today)[0]
    rows = committed_by_day(customer, start=start, end=today)
    names = {row["supplier_id"]: row["supplier__name"] for row in rows}
    return by_party(gather_committed(customer, rows, "supplier"), names, start=start, end=today)


def sales_by_customer(supplier: Organization, *, today: date | None = None) -> ByParty:
    """Home's chart: what the supplier sold to each customer over the last ``MONTHS`` months
    (confirmed and later sales orders, by the day they were created), the ``TOP`` largest and
    the rest, in its base currency at its rates of each order's day. One query, and one per
    foreign currency."""
    today = today or timezone.localdate()
    start = months_back(today)[0]
    rows = sold_by_day(supplier, start=start, end=today)
    names = {customer_id: name for (_, customer_id, name), *_ in rows}
    gathered = gather_in_base(
        organization=supplier,
        into=Gathered(supplier.base_currency),
        rows=[(key[1], currency, day, amount, count) for key, currency, day, amount, count in rows],
    )
    return by_party(gathered, names, start=start, end=today)
