"""The bill page's *Exchange* section and the FX report (page, CSV, filters, isolation, query
counts)."""

import csv
import html
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.services.bills import cancel_bill, create_bill
from billing.services.documents import issue_documents
from tests.billing.fxkit import another_supplier, days_ago, fx_trade, issue_on, order_of, pay, receive, set_rate
from tests.factories import SupplierFactory, bill_line

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(f"billing:{name}", kwargs={"org_slug": org.slug, **kwargs})


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


@pytest.fixture
def example(monkeypatch):
    """The worked example: 1,000.00 EUR received at 1.10, billed at 1.12, paid at 1.09 (USD base)."""
    trade = fx_trade()
    for days, rate in ((20, "1.10"), (10, "1.12"), (3, "1.09")):
        set_rate(trade.customer, days_ago(days), "EUR", "USD", rate)
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    pay(trade, bill, "1000", days_ago(3))
    return trade, bill


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def test_the_bill_page_explains_both_figures_in_words(client, example):
    trade, bill = example
    client.force_login(trade.payables.user)
    page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert "Exchange" in page
    assert f"Rate at the bill date ({_day(days_ago(10))}): 1 EUR = 1.12 USD." in page
    assert (
        f"Goods received on {_day(days_ago(20))} were worth 1,100.00 USD at 1.10; at the bill date's 1.12 they "
        "cost 1,120.00 USD: a loss of 20.00 USD." in page
    )
    assert (
        f"The payment of 1,000.00 EUR on {_day(days_ago(3))} cost 1,090.00 USD at 1.09; at the bill date's 1.12 "
        "it stood at 1,120.00 USD: a gain of 30.00 USD." in page
    )
    assert "Receipt → invoice</dt>" in page and 'text-danger">Loss</span> 20.00 USD' in page
    assert "Invoice → payment</dt>" in page and 'text-success">Gain</span> 30.00 USD' in page
    assert "Net</dt>" in page and 'text-success">Gain</span> 10.00 USD' in page


def test_the_bill_page_says_which_rate_is_missing(client, monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.12")
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    client.force_login(trade.payables.user)
    page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert (
        f"The receipt → invoice figure of receipt 1 (goods received on {_day(days_ago(20))}) cannot be measured "
        f"yet: there is no EUR → USD rate (nor USD → EUR) dated on or before {_day(days_ago(20))} "
        "(the receipt date)." in page
    )
    assert "Receipt → invoice</dt>" in page and "Not measured yet (see below)" in page
    assert "Invoice → payment</dt>" in page and "No payment yet" in page
    set_rate(trade.customer, days_ago(10), "EUR", "USD", "1.12").delete()
    pay(trade, bill, "10", days_ago(0))
    page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert f"No EUR → USD rate is known on or before the bill date ({_day(days_ago(10))})." in page
    assert (
        f"The invoice → payment figure of the payment of 10.00 EUR on {_day(days_ago(0))} cannot be measured yet: "
        f"there is no EUR → USD rate (nor USD → EUR) dated on or before {_day(days_ago(10))} (the bill date) nor "
        f"{_day(days_ago(0))} (the payment date)." in page
    )


def test_a_bill_by_hand_says_it_has_no_receipts(client):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "1.2")
    bill = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="EUR",
        bill_date=days_ago(5),
        due_date=days_ago(5),
        lines=[bill_line(description="Service", quantity="1", unit_price="50")],
    )
    client.force_login(trade.payables.user)
    page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert "None: a bill entered by hand has no receipts" in page and "No payment yet" in page


def test_a_cancelled_bill_says_it_has_no_figures(client, monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "1.1")
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    cancel_bill(bill=bill, by=trade.customer_admin, reason="Invoiced again")
    client.force_login(trade.payables.user)
    page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert page.count("None: the bill is cancelled") == 3 and "Goods received on" not in page


def test_a_bill_in_the_base_currency_has_no_exchange_section(client, trade):
    po = trade.confirmed()
    _, bill = issue_documents(po=po)
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert 'id="exchange"' not in page


@pytest.mark.parametrize("count", [2, 10])
def test_the_bill_page_query_count_does_not_grow_with_payments(client, example, count, django_assert_max_num_queries):
    trade, _ = example
    po = order_of(trade, "100.00")
    receive(trade, po, days_ago(2))
    _, bill = issue_documents(po=po)
    for _ in range(count):
        pay(trade, bill, "1", days_ago(0))
    client.force_login(trade.payables.user)
    client.get(url("bill-list", trade.customer))  # the first request of a session reads more
    with django_assert_max_num_queries(14):  # 11 in the base currency; + figures, receipts, rates
        page = text(client.get(url("bill-detail", trade.customer, number=bill.number)))
    assert page.count("The payment of 1.00 EUR") == count


# --------------------------------------------------------------------------------- report


def report(client, org, **params):
    return client.get(url("fx-report", org), params)


def export(client, org, **params):
    response = client.get(url("fx-export", org), params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_report_groups_by_month_and_supplier_with_totals_and_exports_the_same(client, example, monkeypatch):
    trade, bill = example
    # A second supplier, billed in EUR too, with a receipt → invoice gain of 5.00 USD.
    zeta = another_supplier(trade, "Zeta Labs")
    po = order_of(zeta, "500.00")
    receive(zeta, po, days_ago(10))
    set_rate(trade.customer, days_ago(1), "EUR", "USD", "1.11")
    issue_on(po, days_ago(1), monkeypatch)
    client.force_login(trade.payables.user)
    period = {"date_from": str(days_ago(40)), "date_to": str(days_ago(0))}
    page = text(report(client, trade.customer, **period))
    assert "FX gain and loss" in page and trade.supplier.name in page and "Zeta Labs" in page
    rows = export(client, trade.customer, **period)
    assert rows[0] == ["month", "supplier", "base_currency", "receipt_to_invoice", "invoice_to_payment", "net"]
    body = {(row[1], row[3], row[4], row[5]) for row in rows[1:-1]}
    months = {days_ago(10).replace(day=1), days_ago(3).replace(day=1), days_ago(1).replace(day=1)}
    if len(months) == 1:  # all in one month: one row per supplier
        assert body == {(trade.supplier.name, "-20.00", "30.00", "10.00"), ("Zeta Labs", "5.00", "0.00", "5.00")}
    assert rows[-1] == ["total", "", "USD", "-15.00", "30.00", "15.00"]
    assert sum(Decimal(row[5]) for row in rows[1:-1]) == Decimal("15.00")
    only = export(client, trade.customer, supplier=zeta.supplier.pk, **period)
    assert [row[1] for row in only[1:-1]] == ["Zeta Labs"] * (len(only) - 2) and only[-1][-1] == "5.00"
    page = text(report(client, trade.customer, supplier=zeta.supplier.pk, **period))
    assert "Zeta Labs" in page and "<td>" + trade.supplier.name not in page


def test_the_report_is_by_the_month_of_the_figure(client, monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, date(2026, 1, 1), "EUR", "USD", "1.10")
    set_rate(trade.customer, date(2026, 2, 27), "EUR", "USD", "1.12")
    set_rate(trade.customer, date(2026, 3, 2), "EUR", "USD", "1.09")
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: date(2026, 3, 5))
    po = order_of(trade)
    receive(trade, po, date(2026, 1, 20))
    bill = issue_on(po, date(2026, 2, 27), monkeypatch)
    pay(trade, bill, "1000", date(2026, 3, 2))
    client.force_login(trade.payables.user)
    rows = export(client, trade.customer)  # the default period: this year to date
    assert rows[1:] == [
        ["2026-02", trade.supplier.name, "USD", "-20.00", "0.00", "-20.00"],
        ["2026-03", trade.supplier.name, "USD", "0.00", "30.00", "30.00"],
        ["total", "", "USD", "-20.00", "30.00", "10.00"],
    ]
    page = text(report(client, trade.customer))
    assert 'value="2026-01-01"' in page and 'value="2026-03-05"' in page
    assert "February 2026" in page and "March 2026" in page
    assert export(client, trade.customer, date_from="2026-03-01")[1:] == [
        ["2026-03", trade.supplier.name, "USD", "0.00", "30.00", "30.00"],
        ["total", "", "USD", "0.00", "30.00", "30.00"],
    ]
    assert len(export(client, trade.customer, date_to="2026-01-31")) == 1  # the header alone


def test_the_csv_uses_the_base_currencys_decimals(client, monkeypatch):
    trade = fx_trade("EUR", "JPY")
    set_rate(trade.customer, days_ago(30), "EUR", "JPY", "161.2345")
    set_rate(trade.customer, days_ago(1), "EUR", "JPY", "162.0871")
    po = order_of(trade, "1234.56")
    receive(trade, po, days_ago(20))
    issue_on(po, days_ago(1), monkeypatch)
    client.force_login(trade.payables.user)
    rows = export(client, trade.customer, date_from=str(days_ago(40)), date_to=str(days_ago(0)))
    assert rows[-1] == ["total", "", "JPY", "-1052", "0", "-1052"]


def test_filter_errors_show_next_to_the_field(client, example):
    trade, _ = example
    stranger = SupplierFactory()
    client.force_login(trade.payables.user)
    response = report(client, trade.customer, date_from="2026-05-01", date_to="2026-04-01", supplier=stranger.pk)
    page = response.content.decode()
    assert response.status_code == 200 and "Correct the filters marked above" in page
    assert 'id="id_date_to-error">“To” is before “From”.' in page
    assert 'id="id_supplier-error">Select a valid choice.' in page
    assert 'value="2026-05-01"' in page  # what was typed stays
    response = report(client, trade.customer, date_from="someday")
    assert 'id="id_date_from-error">Enter a valid date.' in response.content.decode()
    assert client.get(url("fx-export", trade.customer), {"date_from": "someday"}).status_code == 400


def test_another_organizations_figures_never_show(client, example, monkeypatch):
    trade, _ = example
    other = fx_trade()
    set_rate(other.customer, days_ago(30), "EUR", "USD", "2")
    set_rate(other.customer, days_ago(5), "EUR", "USD", "3")
    po = order_of(other)
    receive(other, po, days_ago(20))
    issue_on(po, days_ago(5), monkeypatch)
    client.force_login(trade.payables.user)
    rows = export(client, trade.customer, date_from=str(days_ago(40)))
    assert rows[-1] == ["total", "", "USD", "-20.00", "30.00", "10.00"]
    assert other.supplier.name not in text(report(client, trade.customer, date_from=str(days_ago(40))))
    # Through the other organization's address: not a member, 404; its supplier id: not a choice.
    assert report(client, other.customer).status_code == 404
    page = report(client, trade.customer, supplier=other.supplier.pk).content.decode()
    assert "Select a valid choice." in page


def test_the_report_is_for_people_who_see_bills(client, example):
    trade, _ = example
    client.force_login(trade.receivables.user)  # the supplier's: no bills
    assert report(client, trade.supplier).status_code == 403
    client.force_login(trade.payables.user)
    page = client.get(url("bill-list", trade.customer)).content.decode()
    assert f'href="{url("fx-report", trade.customer)}"' in page


@pytest.mark.parametrize("count", [2, 10])
def test_the_report_query_count_does_not_grow(client, count, django_assert_max_num_queries, monkeypatch):
    trade = fx_trade()
    set_rate(trade.customer, days_ago(60), "EUR", "USD", "1.1")
    set_rate(trade.customer, days_ago(1), "EUR", "USD", "1.2")
    for n in range(count):
        other = another_supplier(trade)
        po = order_of(other, "10.00")
        receive(other, po, days_ago(2))
        issue_on(po, days_ago(1) - timedelta(days=n % 2), monkeypatch)
    client.force_login(trade.payables.user)
    params = {"date_from": str(days_ago(60))}
    client.get(url("bill-list", trade.customer))  # the first request of a session reads more
    with django_assert_max_num_queries(6):  # session, user, membership, suppliers, the report, the menu
        page = text(report(client, trade.customer, **params))
    assert page.count("<tr>") == count + 1  # the header and a row per supplier
    with django_assert_max_num_queries(6):
        assert len(export(client, trade.customer, **params)) == count + 2
