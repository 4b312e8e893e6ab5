"""FX gain/loss on bills (SPEC §6): the worked example to the cent (USD, JPY and KWD bases),
each service that records figures, idempotency, a rate arriving later, disputes, bills by
hand re-dated, cancelled bills."""

from decimal import Decimal

import pytest

from billing import fx
from billing.models import FxDifference
from billing.services.bills import cancel_bill, create_bill, update_bill
from billing.services.documents import issue_documents
from billing.services.payments import dispute_payment, verify_payment
from orders.services import fulfilment
from tests.billing.fxkit import days_ago, fx_trade, issue_on, order_of, pay, receive, set_rate
from tests.factories import bill_line, receipt_line

pytestmark = pytest.mark.django_db
RI, IP = FxDifference.Kind.RECEIPT_INVOICE, FxDifference.Kind.INVOICE_PAYMENT


def figures(bill):
    return {
        row.kind: (row.from_base, row.to_base, row.gain)
        for row in FxDifference.objects.filter(bill=bill).order_by("kind")
    }


def worked_example(monkeypatch, base, rates, amount=Decimal("1000.00")):
    """Receipt 20 days ago, bill 10 days ago, payment of it all 3 days ago, each at its rate."""
    trade = fx_trade("EUR", base)
    for days, rate in zip((20, 10, 3), rates, strict=True):
        set_rate(trade.customer, days_ago(days), "EUR", base, rate)
    po = order_of(trade, amount)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    pay(trade, bill, amount, days_ago(3))
    return trade, bill


def test_the_worked_example_in_usd_to_the_cent(monkeypatch):
    trade, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    # Receipt → invoice: 1,000.00 EUR was 1,100.00 USD at 1.10 and 1,120.00 USD at 1.12: a loss of 20.00.
    # Invoice → payment: 1,120.00 USD at the bill's 1.12, paid as 1,090.00 USD at 1.09: a gain of 30.00.
    assert figures(bill) == {
        IP: (Decimal("1120.00"), Decimal("1090.00"), Decimal("30.00")),
        RI: (Decimal("1100.00"), Decimal("1120.00"), Decimal("-20.00")),
    }
    assert sum(row.gain for row in FxDifference.objects.filter(bill=bill)) == Decimal("10.00")  # net gain
    ri = FxDifference.objects.get(bill=bill, kind=RI)
    assert (ri.day, ri.from_date, ri.to_date, ri.amount, ri.currency, ri.base_currency) == (
        days_ago(10),  # the later of the receipt's date and the bill's
        days_ago(20),
        days_ago(10),
        Decimal("1000.00"),
        "EUR",
        "USD",
    )
    assert (ri.organization, ri.supplier, ri.receipt.number, ri.payment) == (trade.customer, trade.supplier, 1, None)
    ip = FxDifference.objects.get(bill=bill, kind=IP)
    assert (ip.day, ip.from_rate, ip.to_rate, ip.receipt) == (days_ago(3), Decimal("1.12"), Decimal("1.09"), None)


def test_the_worked_example_in_yen_rounds_to_whole_yen(monkeypatch):
    _, bill = worked_example(monkeypatch, "JPY", ("161.2345", "162.0871", "160.5"), amount=Decimal("1234.56"))
    # 1,234.56 × 161.2345 = 199,053.66432 → 199,054; × 162.0871 = 200,106.250176 → 200,106;
    # × 160.5 = 198,146.88 → 198,147 (half-up to whole yen).
    assert figures(bill) == {
        IP: (Decimal("200106"), Decimal("198147"), Decimal("1959")),
        RI: (Decimal("199054"), Decimal("200106"), Decimal("-1052")),
    }
    for row in FxDifference.objects.filter(bill=bill):
        assert row.gain == row.gain.quantize(Decimal("1"))


def test_the_worked_example_in_kuwaiti_dinar_keeps_three_decimals(monkeypatch):
    _, bill = worked_example(monkeypatch, "KWD", ("0.33125", "0.3341", "0.33057"), amount=Decimal("1234.56"))
    # 1,234.56 × 0.33125 = 408.948; × 0.3341 = 412.466496 → 412.466; × 0.33057 = 408.1084992 → 408.108.
    assert figures(bill) == {
        IP: (Decimal("412.466"), Decimal("408.108"), Decimal("4.358")),
        RI: (Decimal("408.948"), Decimal("412.466"), Decimal("-3.518")),
    }
    assert sum(row.gain for row in FxDifference.objects.filter(bill=bill)) == Decimal("0.840")


def test_a_receipt_after_the_bill_is_recorded_by_the_receipt(monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.12")
    set_rate(trade.customer, days_ago(4), "EUR", "USD", "1.15")
    po = order_of(trade, "200.00")
    bill = issue_on(po, days_ago(10), monkeypatch)
    assert not FxDifference.objects.exists()  # nothing received yet
    receive(trade, po, days_ago(4), quantity="1")
    row = FxDifference.objects.get(bill=bill)
    # 200.00 EUR received at 1.15 (230.00 USD) and billed at 1.12 (224.00 USD): a gain of 6.00.
    assert (row.kind, row.day, row.from_base, row.to_base, row.gain) == (
        RI,
        days_ago(4),
        Decimal("230.00"),
        Decimal("224.00"),
        Decimal("6.00"),
    )


def test_goods_are_valued_at_the_order_price_per_line_without_damaged_units_or_tax(monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "2")
    po = trade.confirmed(
        lines=[
            {"description": "Vials", "quantity": "3", "unit": "ea", "unit_price": "0.33", "tax_rate": "20"},
            {"description": "Racks", "quantity": "2", "unit": "ea", "unit_price": "10.00"},
        ]
    )
    vials, racks = po.lines.order_by("position")
    only_damaged = fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={racks.pk: receipt_line(damaged="1", reason="Bent")}, received_on=days_ago(5)
    ).receipt
    fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        lines={vials.pk: receipt_line(quantity="3"), racks.pk: receipt_line(quantity="1")},
        received_on=days_ago(4),
    )
    bill = issue_on(po, days_ago(2), monkeypatch)
    row = FxDifference.objects.get(bill=bill)  # the receipt of damaged units only values nothing
    assert row.receipt.number == 2 and row.receipt_id != only_damaged.pk
    assert row.amount == Decimal("10.99")  # 3 × 0.33 + 1 × 10.00, before the 20 % tax
    assert (row.from_base, row.to_base, row.gain) == (Decimal("21.98"), Decimal("21.98"), Decimal("0"))


def test_recording_is_idempotent(monkeypatch):
    _, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    before = list(FxDifference.objects.order_by("pk").values())
    assert fx.record_fx(bill=bill) == fx.FxRecorded(created=0, deleted=0, waiting=0)
    assert fx.record_missing_fx(organization=bill.customer) == 0
    issue_documents(po=bill.purchase_order)  # the task again: finds the documents
    assert list(FxDifference.objects.order_by("pk").values()) == before


def test_a_corrected_rate_does_not_change_a_recorded_figure(monkeypatch):
    trade, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.50")
    fx.record_fx(bill=bill)
    assert figures(bill)[RI] == (Decimal("1100.00"), Decimal("1120.00"), Decimal("-20.00"))


def test_without_rates_nothing_is_recorded_until_they_arrive(monkeypatch):
    trade = fx_trade()
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    pay(trade, bill, "400", days_ago(3))
    assert fx.record_fx(bill=bill) == fx.FxRecorded(created=0, deleted=0, waiting=2)
    set_rate(trade.customer, days_ago(20), "EUR", "USD", "1.10")  # the bill date's 1.10 too (the latest)
    assert fx.record_missing_fx(organization=trade.customer) == 2
    assert figures(bill) == {
        IP: (Decimal("440.00"), Decimal("440.00"), Decimal("0.00")),
        RI: (Decimal("1100.00"), Decimal("1100.00"), Decimal("0.00")),
    }
    assert fx.record_missing_fx(organization=trade.customer) == 0


def test_an_inverse_rate_of_the_opposite_pair_is_used():
    trade = fx_trade()
    set_rate(trade.customer, days_ago(5), "USD", "EUR", "0.8")  # 1 EUR = 1.25 USD
    po = order_of(trade, "100.00")
    _, bill = issue_documents(po=po)
    pay(trade, bill, "100", days_ago(0))
    row = FxDifference.objects.get(bill=bill)
    assert (row.from_rate, row.to_rate, row.from_base) == (Decimal("1.25"), Decimal("1.25"), Decimal("125.00"))


def test_a_disputed_payment_loses_its_figure(monkeypatch):
    trade, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    payment = bill.payments.get()
    dispute_payment(payment=payment, by=trade.receivables, reason="Never arrived")
    assert set(figures(bill)) == {RI}
    assert fx.record_fx(bill=bill).created == 0  # and it does not come back


def test_bills_in_the_base_currency_have_no_figures(trade):
    po = trade.confirmed()
    _, bill = issue_documents(po=po)
    pay(trade, bill, "5", days_ago(0))
    assert not FxDifference.objects.exists()
    assert fx.record_fx(bill=bill) == fx.FxRecorded()


def _hand_bill(trade, day, amount=Decimal("500")):
    return create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="EUR",
        bill_date=day,
        due_date=day,
        lines=[bill_line(description="Calibration", quantity="1", unit_price=amount)],
    )


def test_a_bill_by_hand_has_only_the_payment_part_and_is_rebuilt_when_re_dated():
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "1.00")
    set_rate(trade.customer, days_ago(20), "EUR", "USD", "1.20")
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.10")
    bill = _hand_bill(trade, days_ago(20))
    pay(trade, bill, "500", days_ago(10))
    assert figures(bill) == {IP: (Decimal("600.00"), Decimal("550.00"), Decimal("50.00"))}
    first = FxDifference.objects.get(bill=bill).pk
    update_bill(bill=bill, by=trade.payables, bill_date=days_ago(30), due_date=days_ago(30))
    row = FxDifference.objects.get(bill=bill)
    assert row.pk != first and (row.from_date, row.from_rate, row.gain) == (days_ago(30), Decimal("1"), Decimal("-50"))
    update_bill(bill=bill, by=trade.payables, notes="Checked")  # the date stays: nothing rebuilt
    assert FxDifference.objects.get(bill=bill).pk == row.pk


def test_a_cancelled_bill_keeps_no_figures(monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "1.1")
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    assert set(figures(bill)) == {RI}
    cancel_bill(bill=bill, by=trade.customer_admin, reason="The supplier invoiced again")
    assert not FxDifference.objects.exists()
    assert fx.record_missing_fx(organization=trade.customer) == 0


def test_rates_of_another_organization_are_not_used(monkeypatch):
    trade, other = fx_trade(), fx_trade()
    set_rate(other.customer, days_ago(30), "EUR", "USD", "1.1")
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    assert figures(bill) == {}
    assert fx.record_missing_fx(organization=other.customer) == 0


def test_a_figure_is_unique_per_receipt_and_per_payment(monkeypatch):
    from django.db import IntegrityError, transaction

    _, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    for row in FxDifference.objects.filter(bill=bill):
        row.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            row.save()
    row = FxDifference.objects.filter(bill=bill).first()
    row.pk, row.gain = None, row.gain + 1
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()  # the gain is the difference (a check constraint)


# --- after review: short verification, a day's own rate arriving late, the night's catch-up


def test_a_payment_verified_short_measures_what_arrived(monkeypatch):
    trade, bill = worked_example(monkeypatch, "USD", ("1.10", "1.12", "1.09"))
    payment = bill.payments.get()
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("900.00"))
    row = FxDifference.objects.get(payment=payment)
    # 900.00 EUR settled: 1,008.00 USD at the bill's 1.12, 981.00 USD at 1.09.
    assert (row.amount, row.from_base, row.to_base, row.gain) == (
        Decimal("900.00"),
        Decimal("1008.00"),
        Decimal("981.00"),
        Decimal("27.00"),
    )
    set_rate(trade.customer, days_ago(1), "EUR", "USD", "1.05")
    bill.refresh_from_db()
    pay(trade, bill, "100.00", days_ago(1))  # the shortfall, owed again
    measured = FxDifference.objects.filter(bill=bill, kind=IP)
    assert sum(row.amount for row in measured) == Decimal("1000.00")  # the bill, never more


def test_a_figure_made_before_its_days_rate_is_remade_when_that_rate_arrives(monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(20), "EUR", "USD", "1.10")
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.12")
    po = order_of(trade, "1000.00")
    bill = issue_on(po, days_ago(10), monkeypatch)
    pay(trade, bill, "1000.00", days_ago(0))  # today's rate is not in the table yet: 10 days ago's
    row = FxDifference.objects.get(bill=bill)
    assert (row.to_rate, row.to_rate_day, row.gain) == (Decimal("1.12"), days_ago(10), Decimal("0.00"))
    result = fx.import_exchange_rates(
        organization=trade.customer, data=f"date,from,to,rate\n{days_ago(0).isoformat()},EUR,USD,1.05\n"
    )
    assert result.fx_recorded == 1
    row = FxDifference.objects.get(bill=bill)
    assert (row.to_rate, row.to_rate_day, row.to_base, row.gain) == (
        Decimal("1.05"),
        days_ago(0),
        Decimal("1050.00"),
        Decimal("70.00"),
    )
    # A correction of the same day's rate leaves the booked figure as it is.
    fx.import_exchange_rates(
        organization=trade.customer, data=f"date,from,to,rate\n{days_ago(0).isoformat()},EUR,USD,1.06\n"
    )
    assert FxDifference.objects.get(bill=bill).to_rate == Decimal("1.05")


def test_the_nights_catch_up_records_what_no_event_did(monkeypatch):
    from billing import tasks
    from tests.factories import ExchangeRateFactory

    trade = fx_trade()
    po = order_of(trade, "100.00")
    bill = issue_on(po, days_ago(5), monkeypatch)
    pay(trade, bill, "100.00", days_ago(1))
    assert not FxDifference.objects.exists()  # no rate at all yet
    ExchangeRateFactory(  # written behind the services' back (a race, a raw import)
        organization=trade.customer, day=days_ago(30), from_currency="EUR", to_currency="USD", rate=Decimal("1.2")
    )
    assert tasks.record_missing_fx() == 1
    assert tasks.record_missing_fx() == 0


def test_an_inverse_rate_converts_large_amounts_to_the_minor_unit():
    from accounts import selectors as account_selectors

    trade = fx_trade("JPY", "KWD")
    set_rate(trade.customer, days_ago(1), "KWD", "JPY", "497.5")
    rate = account_selectors.rates_with_days(
        organization=trade.customer, currency="JPY", base_currency="KWD", days=[days_ago(0)]
    )[days_ago(0)]
    assert rate.day == days_ago(1) and rate.shown == Decimal("0.00201005")
    # 100,000,000 JPY / 497.5 = 201,005.0251… KWD: rounded once, not via the 8-place rate (201,005.000).
    assert fx.measure(Decimal("100000000"), rate.value, rate.value, "KWD")[0] == Decimal("201005.025")
