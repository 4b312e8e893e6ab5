"""The 3-way match (SPEC §6): the order, the invoice (or bill) and the receipts, per line and
per bill, net of returns (what is billed less what credit notes took off, against what is kept),
with a badge — *Matched*, *Awaiting receipt* (billed goods not received yet while the order is
still being received: nothing disagrees), *Variance* (a difference within the tolerance policy)
or *Mismatch* (something received or billed truly disagrees) — and the reasons in words. Pure
functions of loaded rows: no query of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import Tolerances
from orders.models import PurchaseOrder
from procurement.money import format_money, round_money

MATCHED, AWAITING, VARIANCE, MISMATCH = "matched", "awaiting_receipt", "variance", "mismatch"
LABELS = {MATCHED: "Matched", AWAITING: "Awaiting receipt", VARIANCE: "Variance", MISMATCH: "Mismatch"}
_RANK = {MATCHED: 0, AWAITING: 1, VARIANCE: 2, MISMATCH: 3}
# An order in these states may still receive goods: what is billed and not received yet is
# awaited, not a mismatch (once it is received, or closed, a shortfall is one).
RECEIVING = (PurchaseOrder.Status.CONFIRMED, PurchaseOrder.Status.PARTIALLY_RECEIVED)


def receiving(po) -> bool:
    return po.status in RECEIVING


@dataclass
class Result:
    badge: str = MATCHED
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.badge]

    def add(self, badge: str, reason: str) -> None:
        self.reasons.append(reason)
        if _RANK[badge] > _RANK[self.badge]:
            self.badge = badge


@dataclass
class LineResult(Result):
    line: object = None


@dataclass
class BillResult(Result):
    lines: list[LineResult] = field(default_factory=list)


def _q(value: Decimal, unit: str) -> str:
    return f"{value.normalize():f} {unit}"


def match_line(line, po_line, tolerances: Tolerances, currency: str, *, awaiting: bool = False) -> LineResult:
    """One billed line against its order line (quantity and price) and what was received
    (``awaiting``: the order may still receive goods). With returns, what is billed net of the
    credit notes (the line's quantity less the order line's ``quantity_credited``) is matched
    against what the customer keeps (``kept_quantity``: received, less what went back)."""
    result = LineResult(line=line)
    unit = po_line.unit
    if line.quantity > po_line.quantity:
        result.add(MISMATCH, f"Billed {_q(line.quantity, unit)}, ordered {_q(po_line.quantity, unit)}.")
    elif line.quantity < po_line.quantity:
        result.add(VARIANCE, f"Billed {_q(line.quantity, unit)} of the {_q(po_line.quantity, unit)} ordered.")
    difference = line.unit_price - po_line.unit_price
    if difference:
        allowed = max(po_line.unit_price * tolerances.price_variance_percent / 100, tolerances.price_variance_amount)
        share = f" ({difference / po_line.unit_price * 100:+.1f} %)" if po_line.unit_price else ""
        words = (
            f"Unit price {format_money(line.unit_price, currency)}, ordered at "
            f"{format_money(po_line.unit_price, currency)}{share}"
        )
        if abs(difference) <= allowed:
            result.add(VARIANCE, words + ", within the price tolerance.")
        else:
            result.add(MISMATCH, words + ".")
    # Returns: what credit notes took off is not billed any more, and what went back is not kept.
    credited = po_line.quantity_credited
    billed = line.quantity - credited
    received = po_line.kept_quantity
    if billed > received:
        floor = billed * (1 - tolerances.under_receipt_percent / 100)
        words = f"Billed {_q(billed, unit)}" + (f" after {_q(credited, unit)} credited" if credited else "")
        words += f", {'kept' if po_line.quantity_received_back else 'received'} {_q(received, unit)}"
        if received >= floor:
            result.add(VARIANCE, words + ", within the under-receipt tolerance.")
        elif awaiting:
            result.add(AWAITING, words + f": awaiting receipt of {_q(billed - received, unit)}.")
        else:
            result.add(MISMATCH, words + f": {_q(billed - received, unit)} billed and not received.")
    if not result.reasons:
        result.reasons.append(
            "Quantity and price as ordered; everything billed is received"
            + (f" ({_q(credited, unit)} returned and credited)." if credited else ".")
        )
    return result


def match_bill(bill, lines, po_lines: dict, tolerances: Tolerances, matches=()) -> BillResult | None:
    """The bill's match: per line for a bill made from an order (``lines`` with ``po_line_id``);
    for a bill entered by hand, its live allocations (``matches``) against the orders' totals
    and what was received of them. None when there is nothing to match against."""
    result = BillResult()
    if bill.purchase_order_id:
        awaiting = receiving(bill.purchase_order)
        for line in lines:
            po_line = po_lines.get(line.po_line_id)
            if po_line is None:
                continue
            line_result = match_line(line, po_line, tolerances, bill.currency, awaiting=awaiting)
            result.lines.append(line_result)
            if line_result.badge != MATCHED:
                result.add(line_result.badge, f"Line {line.position}: {' '.join(line_result.reasons)}")
        if not result.reasons:
            result.reasons.append("Every line matches the order and its receipts.")
        return result
    live = [m for m in matches if m.unmatched_at is None]
    if not live:
        return None
    allocated = sum((m.amount for m in live), Decimal("0"))
    if allocated < bill.total:
        result.add(
            VARIANCE, f"{format_money(bill.total - allocated, bill.currency)} of the bill is not matched to an order."
        )
    for m in live:
        po = m.purchase_order
        value = received_value(po_lines.get(po.pk, ()), po.currency)
        if m.amount > value:
            words = (
                f"{po.number}: {format_money(m.amount, po.currency)} billed, goods received worth "
                f"{format_money(value, po.currency)}"
            )
            if receiving(po):
                result.add(AWAITING, words + " so far: awaiting receipt of the rest.")
            else:
                result.add(MISMATCH, words + ".")
    if not result.reasons:
        result.reasons.append("Matched in full to orders whose goods are received.")
    return result


def received_value(po_lines, currency: str) -> Decimal:
    """What the goods received and kept of an order are worth at its prices (tax included)."""
    total = Decimal("0")
    for line in po_lines:
        if line.quantity and not line.is_void:
            share = min(line.kept_quantity, line.quantity) / line.quantity
            total += (line.line_total + line.tax_amount) * share
    return round_money(total, currency)
