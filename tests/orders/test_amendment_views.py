"""Amendments through the pages: the buyer's form (errors next to the input, nothing typed
lost), the supplier's answer, the *Amendment history* tab on both sides, query counts."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Bill
from billing.services.documents import issue_documents
from orders.models import Amendment
from orders.services import amendments, fulfilment
from tests.factories import Trade, receipt_line

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def trade():
    return Trade()


def _confirmed(trade):
    po = trade.confirmed(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )
    issue_documents(po=po)
    return po


def _input(page, name):
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert match, f"no input {name}"
    return match.group(0)


def test_the_buyer_amends_through_the_page_and_a_refusal_keeps_what_was_typed(client, trade):
    po = _confirmed(trade)
    bolts, grease = po.lines.order_by("position")
    client.force_login(trade.buyer.user)
    detail = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Amend order" in detail and "Amendment history" in detail
    page = client.get(url("po-amend", trade.customer, number=po.number)).content.decode()
    assert _input(page, f"line-{bolts.pk}-quantity") and _input(page, f"line-{grease.pk}-cancel")

    response = client.post(
        url("po-amend", trade.customer, number=po.number),
        {f"line-{bolts.pk}-quantity": "8", f"line-{grease.pk}-quantity": "6.5", "reason": "Second crew"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    field = _input(page, f"line-{bolts.pk}-quantity")
    assert 'value="8"' in field and "is-invalid" in field
    assert "to order less, cancel the line" in page
    assert 'value="6.5"' in _input(page, f"line-{grease.pk}-quantity")
    assert "Second crew" in page and not Amendment.objects.exists()

    response = client.post(
        url("po-amend", trade.customer, number=po.number), {f"line-{bolts.pk}-quantity": "12", "reason": ""}
    )
    assert response.status_code == 400 and 'value="12"' in _input(
        response.content.decode(), f"line-{bolts.pk}-quantity"
    )
    assert "This field is required" in response.content.decode()

    response = client.post(
        url("po-amend", trade.customer, number=po.number),
        {f"line-{bolts.pk}-quantity": "12", f"line-{grease.pk}-cancel": "1", "reason": "Second crew"},
    )
    assert response.status_code == 302
    detail = client.get(response.url).content.decode()
    assert "Amendment 1: waiting for the supplier" in detail and "Withdraw amendment" in detail
    assert "Amend order" not in detail  # one open amendment at a time


def test_an_amended_quantity_that_cannot_be_read_is_marked_on_its_line(client, trade):
    """The rows are parsed by a form: "abc" on the second line is refused beside it, and the
    first line's input is kept as typed."""
    po = _confirmed(trade)
    bolts, grease = po.lines.order_by("position")
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-amend", trade.customer, number=po.number),
        {f"line-{bolts.pk}-quantity": "12", f"line-{grease.pk}-quantity": "abc", "reason": "Second crew"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    field = _input(page, f"line-{grease.pk}-quantity")
    assert 'value="abc"' in field and "is-invalid" in field
    assert "Line 2: “abc” is not a number." in page
    assert 'value="12"' in _input(page, f"line-{bolts.pk}-quantity")
    assert "is-invalid" not in _input(page, f"line-{bolts.pk}-quantity")
    assert not Amendment.objects.exists()


def test_the_supplier_accepts_and_both_sides_see_the_history(client, trade):
    po = _confirmed(trade)
    bolts, _ = po.lines.order_by("position")
    amendments.request_amendment(po=po, by=trade.buyer, reason="Second crew", quantities={bolts.pk: Decimal("20")})
    so = po.sales_order
    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=so.number)).content.decode()
    assert "asks to amend this order" in page and "Accept amendment" in page
    response = client.post(url("amendment-accept", trade.supplier, number=so.number, amendment=1))
    assert response.status_code == 302
    said = client.get(response["Location"]).content.decode()
    assert "Amendment 1 is accepted: the order is revision 3, and the invoice follows." in said
    history = client.get(url("amendments", trade.supplier, side="sales-orders", number=so.number)).content.decode()
    assert "Amendment 1" in history and "revision 3" in history and "Second crew" in history
    client.force_login(trade.buyer.user)
    history = client.get(url("amendments", trade.customer, side="purchase-orders", number=po.number)).content.decode()
    assert "Accepted by" in history and "62.00 USD" in history  # 20 × 2.50 + 4 × 3.00
    bill = Bill.objects.get(purchase_order=po)
    assert bill.total.compare(bill.total.__class__("62.00")) == 0


def test_the_supplier_declines_with_a_reason_on_its_page(client, trade):
    po = _confirmed(trade)
    bolts, _ = po.lines.order_by("position")
    amendments.request_amendment(po=po, by=trade.buyer, reason="Second crew", quantities={bolts.pk: Decimal("20")})
    so = po.sales_order
    client.force_login(trade.sales.user)
    decline = url("amendment-decline", trade.supplier, number=so.number, amendment=1)
    assert "Decline amendment 1" in client.get(decline).content.decode()
    response = client.post(decline, {"reason": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert client.post(decline, {"reason": "No stock"}).status_code == 302
    assert Amendment.objects.get().decline_reason == "No stock"


def test_a_person_without_the_permission_sees_no_button_and_is_refused(client, trade):
    from accounts.roles import Role
    from tests.factories import member

    po = _confirmed(trade)
    receiver = member(trade.customer, Role.RECEIVER)
    client.force_login(receiver.user)
    assert "Amend order" not in client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert client.get(url("po-amend", trade.customer, number=po.number)).status_code == 403


@pytest.mark.parametrize("count", [1, 6])
def test_the_history_query_count_does_not_grow(client, trade, django_assert_max_num_queries, count):
    po = _confirmed(trade)
    bolts, _ = po.lines.order_by("position")
    for n in range(count):
        amendment = amendments.request_amendment(
            po=po, by=trade.buyer, reason="More", quantities={bolts.pk: Decimal(11 + n)}
        )
        if n < count - 1:
            amendments.withdraw_amendment(amendment=amendment, by=trade.buyer)
    client.force_login(trade.buyer.user)
    with django_assert_max_num_queries(10):
        client.get(url("amendments", trade.customer, side="purchase-orders", number=po.number))
    with django_assert_max_num_queries(22):  # a confirmed order with its bill and 3-way match
        client.get(url("po-detail", trade.customer, number=po.number))


def test_the_approver_sees_what_the_amendment_changes(client, trade):
    from decimal import Decimal

    from accounts.roles import Role
    from approvals.models import ApprovalRequest
    from tests.factories import ApprovalPolicyFactory, member

    po = _confirmed(trade)  # 31.00 USD
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Finance", "threshold": Decimal("100"), "approvers": [approver.user]}],
    )
    bolts, _ = po.lines.order_by("position")
    amendments.request_amendment(po=po, by=trade.buyer, reason="Second crew", quantities={bolts.pk: Decimal("50")})
    request = ApprovalRequest.objects.get(kind="amendment")
    client.force_login(approver.user)
    inbox = client.get(reverse("approvals:inbox", kwargs={"org_slug": trade.customer.slug})).content.decode()
    assert "amendment" in inbox
    page = client.get(
        reverse("approvals:request", kwargs={"org_slug": trade.customer.slug, "pk": request.pk})
    ).content.decode()
    assert "Amendment 1 of the confirmed order" in page and "Second crew" in page and "137.00 USD" in page


def test_a_line_received_while_the_form_was_open_is_refused_above_the_form(client, trade):
    from django.utils import timezone

    from accounts.roles import Role
    from tests.factories import member

    po = _confirmed(trade)
    bolts, _ = po.lines.order_by("position")
    fulfilment.record_receipt(
        po=po,
        by=member(trade.customer, Role.RECEIVER),
        lines={bolts.pk: receipt_line(quantity="1")},
        received_on=timezone.localdate(),
    )
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-amend", trade.customer, number=po.number), {f"line-{bolts.pk}-quantity": "20", "reason": "More"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "Line 1 has receipts: it cannot be amended." in page
    assert "Has receipts: not amended" in page


def test_the_suppliers_home_lists_amendments_to_answer(client, trade):
    po = _confirmed(trade)
    bolts, _ = po.lines.order_by("position")
    amendments.request_amendment(po=po, by=trade.buyer, reason="More", quantities={bolts.pk: Decimal("20")})
    client.force_login(trade.sales.user)
    home = client.get(reverse("home"), follow=True).content.decode()
    assert "Amendments asked by customers" in home
    listed = client.get(url("so-list", trade.supplier) + "?status=amendment").content.decode()
    assert po.sales_order.number in listed


@pytest.mark.parametrize("count", [2, 10])
def test_the_amend_form_query_count_does_not_grow_with_lines(client, trade, django_assert_max_num_queries, count):
    po = trade.confirmed(
        lines=[{"description": f"Item {n}", "quantity": "1", "unit": "ea", "unit_price": "1.00"} for n in range(count)]
    )
    client.force_login(trade.buyer.user)
    with django_assert_max_num_queries(10):  # the same with 2 lines or 10
        response = client.get(url("po-amend", trade.customer, number=po.number))
    assert response.status_code == 200
