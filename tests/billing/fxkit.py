"""What the exchange-rate and FX tests share: a trade in a foreign currency, rates, a receipt,
the documents made on a chosen day and a payment."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import ExchangeRate
from accounts.roles import Role
from billing.models import Bill
from billing.services.documents import issue_documents
from billing.services.payments import record_payment
from orders.services import fulfilment
from tests.factories import ExchangeRateFactory, Trade, member, receipt_line

TODAY = timezone.localdate


def days_ago(n: int) -> date:
    return TODAY() - timedelta(days=n)


def fx_trade(currency: str = "EUR", base: str = "USD") -> Trade:
    """A customer with ``base`` as its base currency buying in ``currency`` from a supplier."""
    trade = Trade(currency)
    trade.customer.base_currency = base
    trade.customer.save(update_fields=["base_currency"])
    trade.payables = member(trade.customer, Role.PAYABLES)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.receivables = member(trade.supplier, Role.RECEIVABLES)
    return trade


def set_rate(organization, day: date, from_currency: str, to_currency: str, rate: str) -> ExchangeRate:
    return ExchangeRateFactory(
        organization=organization, day=day, from_currency=from_currency, to_currency=to_currency, rate=Decimal(rate)
    )


def order_of(trade: Trade, amount: str = "1000.00"):
    """A confirmed order of one line worth ``amount`` (quantity 1, no tax)."""
    return trade.confirmed(lines=[{"description": "Instrument", "quantity": "1", "unit": "ea", "unit_price": amount}])


def receive(trade: Trade, po, on: date, quantity: str | None = None, damaged: str = "", reason: str = ""):
    line = po.lines.get()
    values = {"quantity": quantity if quantity is not None else f"{line.quantity.normalize():f}"}
    if damaged:
        values.update(damaged=damaged, reason=reason or "Broken")
    return fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={line.pk: receipt_line(**values)}, received_on=on
    ).receipt


def issue_on(po, day: date, monkeypatch) -> Bill:
    """The order's invoice and bill, made as if on ``day`` (the bill takes the invoice's date)."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "localdate", lambda *args, **kwargs: day)
        _, bill = issue_documents(po=po)
    return Bill.objects.select_related("customer").get(pk=bill.pk)


def pay(trade: Trade, bill: Bill, amount: str, on: date):
    return record_payment(bill=bill, by=trade.payables, amount=Decimal(amount), paid_on=on, method="bank_transfer")


def another_supplier(trade: Trade, name: str | None = None) -> Trade:
    """The same customer buying in the same currency from one more supplier: a Trade-like view
    of it (``confirmed`` works as for the first)."""
    import copy

    from tests.factories import ConnectionFactory, SupplierFactory

    kwargs = {"name": name} if name else {}
    supplier = SupplierFactory(base_currency=trade.connection.currency, **kwargs)
    other = copy.copy(trade)
    other.connection = ConnectionFactory(customer=trade.customer, supplier=supplier, currency=trade.connection.currency)
    other.supplier = supplier
    other.sales = member(supplier, Role.SALES)
    return other
