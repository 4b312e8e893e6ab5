"""Home's money: the charts' selectors (conversion, what cannot be converted, tenancy, query
counts), the SVG with its title, description and table, the links to the filtered lists, and
the inbox's amounts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from accounts.models import ExchangeRate
from accounts.roles import Role
from approvals.selectors import budget_use, waiting_total
from billing.models import Bill, Invoice
from billing.selectors import inbox_counts, sales_by_month, spend_by_month
from billing.services.documents import issue_documents
from orders.models import PurchaseOrder, SalesOrder
from orders.selectors import sales_by_customer, spend_by_supplier
from procurement.figures import months_back
from tests.factories import BudgetFactory, ConnectionFactory, Trade, member

pytestmark = pytest.mark.django_db


def months_ago(n: int):
    return months_back(timezone.localdate())[-1 - n]


def backdate(po: PurchaseOrder, day) -> None:
    """Move an order (and its sales order) to ``day``: what a year of history looks like."""
    moment = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(hours=10)
    PurchaseOrder.objects.filter(pk=po.pk).update(created_at=moment)
    SalesOrder.objects.filter(purchase_order=po).update(created_at=moment)


def billed(po: PurchaseOrder, day, **changes) -> Bill:
    issue_documents(po=po)
    Bill.objects.filter(purchase_order=po).update(bill_date=day, **changes)
    Invoice.objects.filter(purchase_order=po).update(invoice_date=day, **changes)
    return Bill.objects.get(purchase_order=po)


@pytest.fixture
def history():
    """A USD customer: two orders in USD (25.00 each before tax, 0 % tax) two months ago and
    this month, one in EUR at the rate recorded (1.10) last month, one in EUR without a rate;
    bills of each; EUR→USD 1.20 in the table from three months ago. And another customer of
    the same supplier whose figures must never appear."""
    trade = Trade()
    now = timezone.localdate()
    old, last, this = months_ago(2), months_ago(1), now.replace(day=1)
    a = trade.confirmed()
    backdate(a, old)
    billed(a, old + timedelta(days=3))
    b = trade.confirmed()
    billed(b, now)
    eur = trade.confirmed()
    PurchaseOrder.objects.filter(pk=eur.pk).update(currency="EUR", base_rate=Decimal("1.10"))
    backdate(eur, last)
    billed(eur, last, currency="EUR")
    lost = trade.confirmed()
    PurchaseOrder.objects.filter(pk=lost.pk).update(currency="EUR", base_rate=None)
    backdate(lost, last)
    ExchangeRate.objects.create(
        organization=trade.customer, day=months_ago(3), from_currency="EUR", to_currency="USD", rate=Decimal("1.2")
    )
    ExchangeRate.objects.create(
        organization=trade.supplier, day=months_ago(3), from_currency="EUR", to_currency="USD", rate=Decimal("1.3")
    )
    other = Trade()  # another customer of the same supplier
    other.connection = ConnectionFactory(customer=other.customer, supplier=trade.supplier, currency="USD")
    other.supplier, other.sales, other.listing = trade.supplier, trade.sales, trade.listing
    stranger = other.confirmed()
    billed(stranger, now)
    return trade, other, {"old": old, "last": last, "this": this}


def values(chart, key):
    series = next(s for s in chart.series if s.key == key)
    return dict(zip(chart.months, series.values, strict=True))


def test_spend_by_month_converts_at_the_recorded_rates_and_counts_what_it_cannot(history):
    trade, _, m = history
    chart = spend_by_month(trade.customer)
    assert chart.currency == "USD" and len(chart.months) == 12 and chart.months[-1] == m["this"]
    committed, billed_ = values(chart, "committed"), values(chart, "billed")
    assert committed[m["old"]] == Decimal("25") and committed[m["this"]] == Decimal("25")
    assert committed[m["last"]] == Decimal("27.5")  # 25 EUR at the 1.10 recorded on submission
    assert billed_[m["old"]] == Decimal("25") and billed_[m["this"]] == Decimal("25")
    assert billed_[m["last"]] == Decimal("30")  # 25 EUR at the table's 1.20 of the bill's day
    assert [(u.currency, u.count) for u in chart.unconverted] == [("EUR", 1)]  # no rate on submission
    assert sum(committed.values()) == Decimal("77.5")  # the other customer's order is not here


def test_a_bill_on_a_day_without_a_rate_is_counted_as_not_converted(history):
    trade, _, m = history
    ExchangeRate.objects.filter(organization=trade.customer).update(day=timezone.localdate())
    chart = spend_by_month(trade.customer)
    assert values(chart, "billed")[m["last"]] == 0
    assert [(u.currency, u.count) for u in chart.unconverted] == [("EUR", 2)]  # the order and the bill


def test_spend_by_supplier_and_sales_by_customer_keep_to_their_organization(history):
    trade, other, m = history
    spend = spend_by_supplier(trade.customer)
    assert [(p.name, p.amount) for p in spend.parties] == [(trade.supplier.name, Decimal("77.5"))]
    assert spend.start == months_ago(11) and spend.rest_count == 0
    sales = sales_by_customer(trade.supplier)
    # the supplier's USD; the EUR orders at its own 1.30 (it records no rate on submission)
    amounts = {p.name: p.amount for p in sales.parties}
    assert amounts == {trade.customer.name: Decimal("25") * 2 + Decimal("32.5") * 2, other.customer.name: 25}
    sold = values(sales_by_month(trade.supplier), "sold")
    assert sold[m["last"]] == Decimal("65") and sold[m["this"]] == Decimal("50")


def test_the_top_eight_and_the_rest():
    from procurement.figures import Gathered, by_party

    gathered = Gathered("USD")
    for pk in range(1, 11):
        gathered.add(pk, Decimal(pk))
    chart = by_party(gathered, {pk: f"S{pk}" for pk in range(1, 11)}, start=months_ago(11), end=timezone.localdate())
    assert [p.pk for p in chart.parties] == [10, 9, 8, 7, 6, 5, 4, 3]
    assert chart.rest == 3 and chart.rest_count == 2


@pytest.mark.parametrize("currencies", [0, 1])
def test_each_chart_selector_has_a_bounded_query_count(history, django_assert_num_queries, currencies):
    trade, _, _ = history
    if not currencies:
        PurchaseOrder.objects.update(currency="USD")
        Bill.objects.update(currency="USD")
        Invoice.objects.update(currency="USD")
    with django_assert_num_queries(2 + currencies):  # orders, bills, one per foreign currency billed
        spend_by_month(trade.customer)
    with django_assert_num_queries(1):
        spend_by_supplier(trade.customer)
    with django_assert_num_queries(1 + currencies):
        sales_by_customer(trade.supplier)
    with django_assert_num_queries(2 + 2 * currencies):  # orders and invoices each read their rates
        sales_by_month(trade.supplier)
    with django_assert_num_queries(1):
        budget_use(trade.customer)
    with django_assert_num_queries(2 + currencies):  # bills, debit notes, one per foreign currency billed
        inbox_counts(trade.customer, customer=True, supplier=False)


def test_budget_use_reads_in_approval_as_the_budgets_page_does(django_assert_num_queries):
    """A confirmed order is committed, one waiting for approval is *in approval*, as on the
    budgets page; one query however many budgets."""
    from approvals.selectors import budgets_of
    from tests.factories import ApprovalPolicyFactory, CostCenterFactory

    trade = Trade()
    BudgetFactory(organization=trade.customer, cost_center=trade.cost_center, amount=Decimal("1000"))
    other = CostCenterFactory(organization=trade.customer, code="ZZ-OTHER")
    BudgetFactory(organization=trade.customer, cost_center=other, amount=Decimal("50"))
    trade.confirmed()  # 25.00 committed
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer, steps=[{"threshold": Decimal("30"), "approvers": [approver.user]}]
    )
    trade.sent(lines=[{"listing": trade.listing, "quantity": "16"}])  # 40.00, waits for approval
    with django_assert_num_queries(1):
        used = {b.label: b for b in budget_use(trade.customer).budgets}
    shown = {b.cost_center.code: b for b in budgets_of(trade.customer, on=timezone.localdate())}
    assert set(used) == set(shown) == {trade.cost_center.code, "ZZ-OTHER"}
    mine = used[trade.cost_center.code]
    assert (mine.committed, mine.in_approval, mine.amount) == (Decimal("25"), Decimal("40"), Decimal("1000"))
    for code, b in shown.items():
        assert (used[code].committed, used[code].in_approval, used[code].amount) == (
            b.committed,
            b.in_approval,
            b.amount,
        )


def test_the_inbox_amounts_of_bills_to_pay(history):
    trade, _, _ = history
    today = timezone.localdate()
    Bill.objects.filter(customer=trade.customer).update(due_date=today + timedelta(days=30))
    first, second = Bill.objects.filter(customer=trade.customer, currency="USD").order_by("pk")[:2]
    Bill.objects.filter(pk=first.pk).update(due_date=today - timedelta(days=1))
    Bill.objects.filter(pk=second.pk).update(due_date=today + timedelta(days=3))
    counts = inbox_counts(trade.customer, customer=True, supplier=True)
    assert counts["to_pay"] == 3 and counts["bills_overdue"] == 1 and counts["bills_due_week"] == 1
    # 25 + 25 USD, and 25 EUR at today's 1.20
    assert counts["to_pay_amount"] == Decimal("80") and counts["bills_overdue_amount"] == 25
    assert counts["bills_due_week_amount"] == 25 and counts["bills_unconverted"] == []


def test_the_inbox_amounts_of_open_invoices(history):
    trade, _, _ = history
    today = timezone.localdate()
    Invoice.objects.filter(supplier=trade.supplier).update(due_date=today + timedelta(days=30))
    Invoice.objects.filter(supplier=trade.supplier, currency="EUR").update(due_date=today - timedelta(days=2))
    counts = inbox_counts(trade.supplier, customer=False, supplier=True)
    # four invoices: three of this customer (one in EUR at the supplier's 1.30), one of the other
    assert counts["invoices_open"] == 4 and counts["invoices_overdue"] == 1
    assert counts["invoices_open_amount"] == Decimal("107.5") and counts["invoices_overdue_amount"] == Decimal("32.5")


def test_the_approvals_waiting_add_up_in_the_base_currency():
    from tests.factories import ApprovalPolicyFactory

    trade = Trade()
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer, steps=[{"threshold": Decimal("0"), "approvers": [approver.user]}]
    )
    trade.sent()
    trade.sent(lines=[{"listing": trade.listing, "quantity": "4"}])
    gathered = waiting_total(approver)
    assert gathered.get("count") == 2 and gathered.get("amount") == Decimal("35")
    assert waiting_total(member(trade.customer, Role.APPROVER)).get("count") == 0  # not theirs to decide


# ------------------------------------------------------------------------------ the page


def home(client, membership):
    client.force_login(membership.user)
    return client.get(f"/o/{membership.organization.slug}/")


def test_home_draws_each_chart_as_an_svg_with_title_description_and_table(client, history):
    trade, _, _ = history
    html = home(client, trade.customer_admin).content.decode()
    for key in ("spend", "suppliers", "budgets"):
        assert f'data-chart="{key}"' in html
    svgs = re.findall(r"<svg class=\"chart-svg\"[^>]*>", html)
    assert len(svgs) == 2  # no budget yet: the budgets chart says so
    for svg in svgs:
        assert 'role="group"' in svg and "viewBox=" in svg and 'width="100%"' in svg
    assert '<title id="chart-spend-title">Spend by month</title>' in html
    assert '<desc id="chart-spend-desc">' in html
    assert "<summary>The numbers</summary>" in html and '<th scope="col" class="text-end">Committed (USD)</th>' in html
    assert "1 amount in EUR could not be converted to USD (no rate recorded) and is left out." in html
    assert "style=" not in html.split("<main", 1)[-1]  # the CSP allows no inline style


def test_a_supplier_sees_its_sales(client, history):
    trade, _, _ = history
    html = home(client, member(trade.supplier, Role.ADMIN)).content.decode()
    assert 'data-chart="sales"' in html and 'data-chart="customers"' in html
    assert 'data-chart="spend"' not in html


def test_the_home_page_query_count_does_not_grow_with_the_history(client, history, django_assert_max_num_queries):
    trade, _, _ = history
    admin = trade.customer_admin
    client.force_login(admin.user)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(f"/o/{trade.customer.slug}/")
    for n in range(3):
        backdate(trade.confirmed(), months_ago(n + 4))
    with django_assert_max_num_queries(len(before.captured_queries)):
        response = client.get(f"/o/{trade.customer.slug}/")
    assert response.status_code == 200
    assert len(before.captured_queries) <= 30


def links(html: str, key: str) -> list[str]:
    section = html.split(f'data-chart="{key}"', 1)[1].split("</section>", 1)[0]
    return [unescape(href) for href in re.findall(r'<a href="([^"]+)"', section)]


def listed(client, url: str) -> set[str]:
    page = client.get(url).content.decode()
    return set(re.findall(r">((?:PO|SO|BILL|INV|B|I)[A-Z]*-\d+)<", page))


def test_the_bars_link_to_the_lists_filtered_to_what_they_show(client, history):
    trade, _, m = history
    html = home(client, trade.customer_admin).content.decode()
    month = [u for u in links(html, "spend") if "purchase-orders" in u and f"date_from={m['last'].isoformat()}" in u]
    assert month, links(html, "spend")
    expected = set(
        PurchaseOrder.objects.filter(customer=trade.customer, currency="EUR").values_list("number", flat=True)
    )
    assert listed(client, month[0]) == expected  # the EUR order with a rate and the one without
    bills = [u for u in links(html, "spend") if "bills" in u and f"date_from={m['old'].isoformat()}" in u]
    assert listed(client, bills[0]) == {Bill.objects.get(customer=trade.customer, bill_date__lt=m["last"]).number}
    supplier = [u for u in links(html, "suppliers") if "counterparty=" in u][0]
    assert listed(client, supplier) == set(
        PurchaseOrder.objects.filter(customer=trade.customer).values_list("number", flat=True)
    )
    Bill.objects.filter(customer=trade.customer, bill_date__lt=m["last"]).update(status=Bill.Status.CANCELLED)
    assert listed(client, bills[0]) == set()  # a cancelled bill is no longer billed


def test_a_partly_paid_invoice_counts_only_what_is_still_owed(history):
    """What the supplier waits for: the invoice less what it verified it received (a payment
    recorded and not yet verified is still owed: it is *to verify*)."""
    from billing.services.payments import record_payment, verify_payment

    trade, _, _ = history
    before = inbox_counts(trade.supplier, customer=False, supplier=True)
    bill = Bill.objects.filter(customer=trade.customer, currency="USD").order_by("pk").first()
    payables, receivables = member(trade.customer, Role.PAYABLES), member(trade.supplier, Role.RECEIVABLES)
    today = timezone.localdate()
    first = record_payment(bill=bill, by=payables, amount=Decimal("10"), paid_on=today, method="bank_transfer")
    verify_payment(payment=first, by=receivables, amount_received=Decimal("10"))
    record_payment(bill=bill, by=payables, amount=Decimal("5"), paid_on=today, method="bank_transfer")
    after = inbox_counts(trade.supplier, customer=False, supplier=True)
    assert after["invoices_open"] == before["invoices_open"]
    assert after["invoices_open_amount"] == before["invoices_open_amount"] - Decimal("10")


def test_the_approvals_waiting_in_another_currency_add_up_at_their_rates():
    """Requests in EUR for a USD customer count at the rate each was submitted at (what the
    request states); one submitted while no rate was recorded is named, never taken as zero."""
    from approvals.models import ApprovalRequest
    from tests.factories import ApprovalPolicyFactory

    trade = Trade(currency="EUR")
    trade.customer.base_currency = "USD"  # a USD customer buying in EUR
    trade.customer.save()
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer, steps=[{"threshold": Decimal("0"), "approvers": [approver.user]}]
    )
    rate = ExchangeRate.objects.create(
        organization=trade.customer, day=timezone.localdate(), from_currency="EUR", to_currency="USD", rate="1.10"
    )
    trade.sent()  # 10 × 2.50 EUR
    rate.delete()
    trade.sent(lines=[{"listing": trade.listing, "quantity": "4"}])
    assert sorted(ApprovalRequest.objects.values_list("total_base", flat=True), key=str) == [Decimal("27.5"), None]
    gathered = waiting_total(approver)
    assert gathered.get("count") == 2 and gathered.get("amount") == Decimal("27.5")
    assert [(u.currency, u.count) for u in gathered.unconverted] == [("EUR", 1)]
