"""The published revisions of an order and their redlines (what each revision changed)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from accounts.models import Membership
from procurement.money import format_money
from procurement.transactions import require_atomic
from procurement.validators import format_date, normalize_text

from .models import PurchaseOrder, PurchaseOrderLine, Revision, RevisionLine

REVISION_HEADER_FIELDS = (
    "expected_delivery_date",
    "valid_until",
    "ship_to_address",
    "payment_terms_days",
    "note_to_supplier",
    "accept_by",
    "confirm_ship_by",
    "invoice_due_date",
    "supplier_contact",
    "supplier_note",
)


LINE_VALUE_FIELDS = (
    "key",
    "position",
    "sku",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "tax_rate",
    "line_total",
    "tax_amount",
    "requested_date",
    "promised_date",
    "backorder_quantity",
    "backorder_date",
    "status",
    "reject_reason",
)


def snapshot(po: PurchaseOrder, lines: list[PurchaseOrderLine], kind: str, by: Membership) -> Revision:
    """Publish the order as it stands as its next revision (immutable), inside the service's
    transaction that holds the order's lock."""
    require_atomic()
    po.revision_number += 1
    header = {name: _jsonable(getattr(po, name)) for name in REVISION_HEADER_FIELDS}
    revision = Revision.objects.create(
        purchase_order=po,
        number=po.revision_number,
        kind=kind,
        header=header,
        subtotal=po.subtotal,
        discount=po.discount,
        tax_total=po.tax_total,
        total=po.total,
        created_by=by.user,
    )
    RevisionLine.objects.bulk_create(
        RevisionLine(revision=revision, **{name: getattr(line, name) for name in LINE_VALUE_FIELDS}) for line in lines
    )
    return revision


def _jsonable(value):
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def diff_revisions(old: Revision | None, new: Revision) -> list[dict]:
    """Line by line, what ``new`` changed against ``old``: added, removed, changed, same."""
    old_lines = {line.key: line for line in old.lines.all()} if old else {}
    rows = []
    for line in new.lines.all():
        before = old_lines.pop(line.key, None)
        if before is None:
            rows.append({"kind": "added" if old else "same", "line": line, "before": None, "fields": []})
            continue
        fields = [
            name
            for name in (
                "description",
                "quantity",
                "unit_price",
                "tax_rate",
                "line_total",
                "promised_date",
                "backorder_quantity",
                "backorder_date",
                "status",
                "reject_reason",
            )
            if getattr(before, name) != getattr(line, name)
        ]
        voided = line.is_void and line.status != before.status
        kind = line.status if voided else ("changed" if fields else "same")  # "rejected" / "cancelled"
        rows.append({"kind": kind, "line": line, "before": before, "fields": fields})
    rows += [{"kind": "removed", "line": line, "before": line, "fields": []} for line in old_lines.values()]
    return rows


def same_value(before, after) -> bool:
    """Whether a header field is unchanged: text compares as typed, whatever its line ends (an
    address stored before input was normalized may still have CRLF)."""
    if isinstance(before, str) and isinstance(after, str):
        return normalize_text(before) == normalize_text(after)
    return before == after


HEADER_LABELS = {
    "expected_delivery_date": "delivery by",
    "valid_until": "answer by",
    "ship_to_address": "ship-to address",
    "payment_terms_days": "payment terms (days)",
    "accept_by": "confirm by",
    "confirm_ship_by": "ships by",
    "invoice_due_date": "invoice due",
    "supplier_contact": "supplier contact",
}


def diff_headers(old: Revision | None, new: Revision, currency: str = "") -> list[tuple[str, str, str]]:
    """(label, before, after) of each header field ``new`` changed, the discount included (as
    money when the order's ``currency`` is given); dates as the pages show them."""
    if old is None:
        return []
    rows = [
        (label, str(old.header.get(name) or "—"), str(new.header.get(name) or "—"))
        for name, label in HEADER_LABELS.items()
        if not same_value(old.header.get(name), new.header.get(name))
    ]
    rows = [(label, _shown(before), _shown(after)) for label, before, after in rows]
    if old.discount != new.discount:
        if currency:
            rows.append(("discount", format_money(old.discount, currency), format_money(new.discount, currency)))
        else:
            rows.append(("discount", f"{old.discount.normalize():f}", f"{new.discount.normalize():f}"))
    return rows


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _shown(value: str) -> str:
    """A header value as people read it: a date (kept as ISO text in the revision) as the pages
    show dates."""
    return format_date(date.fromisoformat(value)) if _ISO_DATE.match(value) else value


def summarize_changes(old: Revision | None, new: Revision) -> list[str]:
    """The diff in words, for the thread and the e-mail: money and dates as the pages show them."""
    currency = new.purchase_order.currency
    words = [f"{label} {before} → {after}" for label, before, after in diff_headers(old, new, currency)]
    for row in diff_revisions(old, new):
        line, before = row["line"], row["before"]
        name = line.sku or line.description[:40]
        if row["kind"] == "added":
            words.append(f"added {name} ({line.quantity.normalize():f} {line.unit})")
        elif row["kind"] in ("rejected", "cancelled"):
            words.append(f"{row['kind']} {name}: {line.reject_reason}")
        elif row["kind"] == "changed":
            parts = []
            if "quantity" in row["fields"]:
                parts.append(f"quantity {before.quantity.normalize():f} → {line.quantity.normalize():f}")
            if "unit_price" in row["fields"]:
                parts.append(
                    f"price {format_money(before.unit_price, currency)} → {format_money(line.unit_price, currency)}"
                )
            if "backorder_quantity" in row["fields"] and line.backorder_quantity:
                backorder = f"{line.backorder_quantity.normalize():f}"
                parts.append(f"{backorder} backordered to {format_date(line.backorder_date)}")
            if "promised_date" in row["fields"]:
                parts.append(f"promised {format_date(line.promised_date)}")
            if parts:
                words.append(f"{name}: " + ", ".join(parts))
    return words
