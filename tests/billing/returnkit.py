"""What the credit-note tests share: an order with chosen lines (and a header discount), its goods
received, and a return as the orders services leave it once the supplier recorded its arrival back
— built with the ORM, so that billing is tested on its own."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from accounts.roles import Role
from orders.models import PurchaseOrderLine, ReturnLine, ReturnRequest
from orders.services import fulfilment, negotiation
from tests.factories import Trade, member, proposal_header, receipt_line


def trade_in(currency: str = "USD") -> Trade:
    """A Trade in ``currency`` with the customer's payables and receiver and the supplier's receivables."""
    trade = Trade(currency)
    trade.payables = member(trade.customer, Role.PAYABLES)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.receivables = member(trade.supplier, Role.RECEIVABLES)
    return trade


def confirmed(trade: Trade, lines: list[dict], *, discount: str | None = None):
    """An order of ``lines`` (description, quantity, unit price, tax rate as text), with the
    supplier's header ``discount`` if given, accepted and confirmed."""
    po = trade.sent(lines=[{"unit": "ea", **line} for line in lines])
    if discount is not None:
        negotiation.save_proposal(
            so=po.sales_order, by=trade.sales, header=proposal_header(discount=discount), lines={}
        )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    return po


def receive_all(trade: Trade, po) -> None:
    """Every line received in full, in good condition (by the trade's receiver, one is made if need be)."""
    if not hasattr(trade, "receiver"):
        trade.receiver = member(trade.customer, Role.RECEIVER)
    fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        lines={line.pk: receipt_line(quantity=f"{line.quantity.normalize():f}") for line in po.lines.all()},
        received_on=timezone.localdate(),
    )
    po.refresh_from_db()


AUTHORIZED = (ReturnRequest.Status.ACCEPTED, ReturnRequest.Status.SHIPPED, ReturnRequest.Status.RECEIVED)


def arrived_back(
    po,
    quantities: dict[int, str],
    *,
    resolution: str = ReturnRequest.Resolution.CREDIT,
    status: str = ReturnRequest.Status.RECEIVED,
    credited: bool = True,
) -> ReturnRequest:
    """A return of ``quantities`` ({line position: quantity as text}) of the order, as the orders
    services leave it when the supplier recorded that everything arrived back: for a credit, each
    line's ``quantity_credited`` set (on the return line and the order line); for a replacement,
    ``quantity_to_replace``. ``credited=False``: arrived back with nothing credited."""
    number = po.returns.count() + 1
    ret = ReturnRequest.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=number,
        status=status,
        reason=ReturnRequest.Reason.DAMAGED,
        resolution=resolution,
        requested_by=po.requester,
        rma_number=f"RMA-{po.pk:03d}{number:03d}" if status in AUTHORIZED else "",
        decline_reason="Not ours" if status == ReturnRequest.Status.DECLINED else "",
        received_on=timezone.localdate() if status == ReturnRequest.Status.RECEIVED else None,
        received_at=timezone.now() if status == ReturnRequest.Status.RECEIVED else None,
    )
    back = status == ReturnRequest.Status.RECEIVED
    for position, text in quantities.items():
        quantity = Decimal(text)
        line = po.lines.get(position=position)
        credit = quantity if back and credited and resolution == ReturnRequest.Resolution.CREDIT else Decimal("0")
        replace = quantity if back and resolution == ReturnRequest.Resolution.REPLACEMENT else Decimal("0")
        ReturnLine.objects.create(
            return_request=ret,
            po_line=line,
            quantity=quantity,
            quantity_received_back=quantity if back else Decimal("0"),
            condition=ReturnLine.Condition.AS_DESCRIBED if back else "",
            quantity_credited=credit,
            quantity_to_replace=replace,
        )
        PurchaseOrderLine.objects.filter(pk=line.pk).update(
            quantity_returned=F("quantity_returned") + quantity,
            quantity_received_back=F("quantity_received_back") + (quantity if back else 0),
            quantity_credited=F("quantity_credited") + credit,
            quantity_replaced=F("quantity_replaced") + replace,
        )
    return ret
