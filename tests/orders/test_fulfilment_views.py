"""*Record shipment* and *Record receipt* through the test client: forms that keep what was
typed and mark the refused input, progress and fulfilment on both order pages, the
goods-received filter, inbox rows, and query counts that do not grow with shipments."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from billing.services.documents import issue_documents
from orders.models import PurchaseOrder
from orders.services import fulfilment, negotiation
from tests.factories import Trade, member, receipt_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    trade = Trade()
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    return trade


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


def _confirmed(trade):
    return trade.confirmed(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )


def _input(page, name):
    """The ``<input>`` tag named ``name`` in ``page``."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert match, f"no input {name}"
    return match.group(0)


def test_the_supplier_records_a_shipment_through_the_page(client, trade):
    po = _confirmed(trade)
    so = po.sales_order
    line1, line2 = po.lines.order_by("position")
    client.force_login(trade.shipper.user)
    detail = client.get(url("so-detail", trade.supplier, number=so.number)).content.decode()
    assert "Record shipment" in detail
    page = client.get(url("so-ship", trade.supplier, number=so.number)).content.decode()
    assert 'value="10"' in _input(page, f"line-{line1.pk}")  # what is left, proposed
    response = client.post(
        url("so-ship", trade.supplier, number=so.number),
        {
            f"line-{line1.pk}": "6",
            f"line-{line2.pk}": "0",
            "shipped_on": timezone.localdate().isoformat(),
            "carrier": "DHL",
            "tracking_number": "JD0001",
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Shipment 1 recorded" in page and "Partially shipped" in page and "JD0001" in page


def test_a_refused_shipment_marks_the_line_and_keeps_what_was_typed(client, trade):
    po = _confirmed(trade)
    so = po.sales_order
    line1, line2 = po.lines.order_by("position")
    client.force_login(trade.shipper.user)
    response = client.post(
        url("so-ship", trade.supplier, number=so.number),
        {
            f"line-{line1.pk}": "12",
            f"line-{line2.pk}": "1",
            "shipped_on": timezone.localdate().isoformat(),
            "carrier": "Our van",
            "tracking_number": "T-9",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1: 12 ea is more than the 10 ea left to ship" in page
    field = _input(page, f"line-{line1.pk}")
    assert 'value="12"' in field and "is-invalid" in field
    assert 'value="1"' in _input(page, f"line-{line2.pk}")
    assert 'value="Our van"' in _input(page, "carrier") and 'value="T-9"' in _input(page, "tracking_number")
    # A missing date is an error next to the date, with the lines kept.
    response = client.post(url("so-ship", trade.supplier, number=so.number), {f"line-{line1.pk}": "3"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page and 'value="3"' in _input(page, f"line-{line1.pk}")
    assert po.shipments.count() == 0


def test_the_customer_receives_against_a_shipment_through_the_page(client, trade):
    po = _confirmed(trade)
    line1, line2 = po.lines.order_by("position")
    shipment = fulfilment.record_shipment(
        so=po.sales_order, by=trade.shipper, lines={line1.pk: Decimal("10")}, shipped_on=timezone.localdate()
    )
    client.force_login(trade.receiver.user)
    detail = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Receive shipment 1" in detail and "In transit" in detail
    page = client.get(url("po-receive", trade.customer, number=po.number) + f"?shipment={shipment.pk}")
    page = page.content.decode()
    assert 'value="10"' in _input(page, f"line-{line1.pk}-quantity")
    assert f"line-{line2.pk}-quantity" not in page  # not in the shipment
    data = {
        "shipment": shipment.pk,
        "received_on": timezone.localdate().isoformat(),
        f"line-{line1.pk}-quantity": "9",
        f"line-{line1.pk}-damaged": "1",
        "note": "Pallet 1",
    }
    response = client.post(url("po-receive", trade.customer, number=po.number), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1: say why (1 ea damaged)." in page
    reason = _input(page, f"line-{line1.pk}-reason")
    assert "is-invalid" in reason
    assert 'value="9"' in _input(page, f"line-{line1.pk}-quantity")
    assert 'value="1"' in _input(page, f"line-{line1.pk}-damaged")
    assert "Pallet 1" in page and f'name="shipment" value="{shipment.pk}"' in page
    data[f"line-{line1.pk}-reason"] = "Dented"
    response = client.post(url("po-receive", trade.customer, number=po.number), data)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Receipt 1 recorded; the order is partially received." in page
    assert "1 damaged" in page and "Dented" in page and "Received (receipt 1)" in page
    supplier_page_for = member(trade.supplier, Role.SALES)
    client.force_login(supplier_page_for.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert "Customer: partially received" in page and "Dented" in page


def test_a_shipment_received_already_is_not_offered_again(client, trade):
    po = _confirmed(trade)
    line1 = po.lines.order_by("position").first()
    shipment = fulfilment.record_shipment(
        so=po.sales_order, by=trade.shipper, lines={line1.pk: Decimal("2")}, shipped_on=timezone.localdate()
    )
    fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        lines={line1.pk: receipt_line(quantity="2")},
        shipment=shipment,
        received_on=timezone.localdate(),
    )
    client.force_login(trade.receiver.user)
    response = client.post(
        url("po-receive", trade.customer, number=po.number),
        {"shipment": shipment.pk, "received_on": timezone.localdate().isoformat(), f"line-{line1.pk}-quantity": "2"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "That shipment has been received already" in page
    assert 'value="2"' in _input(page, f"line-{line1.pk}-quantity")  # what was typed is kept
    assert f'name="shipment" value="{shipment.pk}"' in page  # a second submit is refused again
    assert po.receipts.count() == 1


def test_the_oldest_shipment_on_its_way_is_proposed_and_none_means_counting(client, trade):
    po = _confirmed(trade)
    line1, line2 = po.lines.order_by("position")
    first, _ = (
        fulfilment.record_shipment(
            so=po.sales_order, by=trade.shipper, lines={line1.pk: Decimal("3")}, shipped_on=timezone.localdate()
        )
        for _ in range(2)
    )
    client.force_login(trade.receiver.user)
    page = client.get(url("po-receive", trade.customer, number=po.number)).content.decode()
    assert f'name="shipment" value="{first.pk}"' in page and 'value="3"' in _input(page, f"line-{line1.pk}-quantity")
    page = client.get(url("po-receive", trade.customer, number=po.number) + "?shipment=none").content.decode()
    assert 'name="shipment" value="none"' in page
    assert 'value=""' in _input(page, f"line-{line1.pk}-quantity")  # counted, not assumed
    assert 'value=""' in _input(page, f"line-{line2.pk}-quantity")


def test_buttons_and_pages_follow_role_and_state(client, trade):
    po = trade.sent()
    client.force_login(trade.receiver.user)
    response = client.get(url("po-receive", trade.customer, number=po.number))
    assert response.status_code == 302  # not confirmed: back to the order, with the reason
    assert "received on confirmed orders only" in client.get(response["Location"]).content.decode()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    assert "Record receipt" in client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    client.force_login(trade.buyer.user)  # buyers do not receive
    assert "Record receipt" not in client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert client.get(url("po-receive", trade.customer, number=po.number)).status_code == 403
    client.force_login(trade.sales.user)  # sales does not ship
    so_number = po.sales_order.number
    assert "Record shipment" not in client.get(url("so-detail", trade.supplier, number=so_number)).content.decode()
    assert client.get(url("so-ship", trade.supplier, number=so_number)).status_code == 403


def test_goods_received_filter_and_inbox_rows(client, trade):
    draft = trade.draft()
    confirmed = _confirmed(trade)
    part = _confirmed(trade)
    line = part.lines.order_by("position").first()
    fulfilment.record_receipt(
        po=part, by=trade.receiver, lines={line.pk: receipt_line(quantity="1")}, received_on=timezone.localdate()
    )
    client.force_login(trade.receiver.user)
    page = client.get(url("po-list", trade.customer) + "?received=partially_received").content.decode()
    assert part.number in page and confirmed.number not in page and draft.number not in page
    page = client.get(url("po-list", trade.customer) + "?received=not_received").content.decode()
    assert confirmed.number in page and part.number not in page
    csv = b"".join(client.get(url("po-export", trade.customer) + "?received=partially_received").streaming_content)
    assert b"goods_received" in csv and b"Partially received" in csv and confirmed.number.encode() not in csv
    home = client.get(reverse("home:org-home", args=[trade.customer.slug])).content.decode()
    assert "Confirmed orders to receive" in home and "Partially received: the rest to receive" in home
    client.force_login(trade.shipper.user)
    home = client.get(reverse("home:org-home", args=[trade.supplier.slug])).content.decode()
    assert "Confirmed sales orders to ship" in home


@pytest.mark.parametrize("count", [1, 6])
def test_order_pages_query_count_does_not_grow_with_shipments(client, trade, django_assert_max_num_queries, count):
    po = trade.confirmed(lines=[{"listing": trade.listing, "quantity": "100"}] * 3)
    lines = {line.pk: Decimal("1") for line in po.lines.all()}
    for _ in range(count):
        shipment = fulfilment.record_shipment(
            so=po.sales_order, by=trade.shipper, lines=lines, shipped_on=timezone.localdate()
        )
        fulfilment.record_receipt(
            po=po,
            by=trade.receiver,
            lines={pk: receipt_line(quantity="1") for pk in lines},
            shipment=shipment,
            received_on=timezone.localdate(),
        )
    assert PurchaseOrder.objects.get(pk=po.pk).status == "partially_received"
    issue_documents(po=po)  # the bill and its 3-way match are on the page
    client.force_login(trade.receiver.user)
    client.get(url("po-detail", trade.customer, number=po.number))
    # + the bill, its 3-way match (tolerances, bill and order lines), matches to the order
    with django_assert_max_num_queries(23):
        assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 200
    with django_assert_max_num_queries(12):  # + the supplier's tolerance override, else the policy
        assert client.get(url("po-receive", trade.customer, number=po.number)).status_code == 200
    client.force_login(trade.shipper.user)
    so_number = po.sales_order.number
    client.get(url("so-detail", trade.supplier, number=so_number))
    with django_assert_max_num_queries(19):  # + the invoice and its payments to verify
        assert client.get(url("so-detail", trade.supplier, number=so_number)).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(url("so-ship", trade.supplier, number=so_number)).status_code == 200


def test_damaged_goods_bring_a_shipped_order_back_to_the_suppliers_inbox(client, trade):
    po = trade.confirmed()
    line = po.lines.get()
    shipment = fulfilment.record_shipment(
        so=po.sales_order, by=trade.shipper, lines={line.pk: Decimal("10")}, shipped_on=timezone.localdate()
    )
    client.force_login(trade.shipper.user)
    home = reverse("home:org-home", args=[trade.supplier.slug])
    assert "to send again" not in client.get(home).content.decode()
    fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        lines={line.pk: receipt_line(quantity="8", damaged="2", reason="Rusty")},
        shipment=shipment,
        received_on=timezone.localdate(),
    )
    page = client.get(home).content.decode()
    assert "Shipped, but received damaged or short: to send again" in page
    detail = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert "Record shipment" in detail
    fulfilment.record_shipment(
        so=po.sales_order, by=trade.shipper, lines={line.pk: Decimal("2")}, shipped_on=timezone.localdate()
    )
    assert "to send again" not in client.get(home).content.decode()
