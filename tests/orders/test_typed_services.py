"""Typed input (issue 17, item 5): the forms read the request, and the services still refuse bad
values when they are called directly (seed_demo, the API later) — and the pages mark the right row."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from orders.models import Listing, Proposal, PurchaseOrder
from orders.services import fulfilment, listings, negotiation
from orders.services.listings import ListingRefused, ListingValues
from procurement.errors import DomainError
from tests.factories import ListingFactory, Trade, added_line, member, proposal_header

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


def _values(**changes) -> ListingValues:
    base = {"sku": "BOLT-9", "name": "Bolt", "description": "", "unit": "ea", "currency": "USD"}
    return ListingValues(**{**base, "unit_price": Decimal("2.00"), "min_order_qty": Decimal("1"), **changes})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sku": "<b>x</b>"}, "sku"),
        ({"sku": ""}, "sku"),
        ({"sku": "X" * 65}, "sku"),
        ({"name": ""}, "name"),
        ({"name": "bad\x00nul"}, "name"),
        ({"name": "<script>alert(1)</script>"}, "name"),
        ({"description": "d" * 5001}, "description"),
    ],
)
def test_the_listing_service_checks_its_text_itself(trade, changes, field):
    before = Listing.objects.count()
    with pytest.raises(ListingRefused) as refused:
        listings.save_listing(by=member(trade.supplier, Role.ADMIN), values=_values(**changes))
    assert field in refused.value.errors
    assert Listing.objects.count() == before


def test_an_added_line_of_another_suppliers_listing_is_refused(trade):
    so = trade.sent().sales_order
    foreign = ListingFactory()  # another supplier's
    header = proposal_header()
    with pytest.raises(DomainError, match="active listings"):
        negotiation.accept_with_proposal(
            so=so,
            by=trade.sales,
            header=header,
            lines={},
            added=[added_line(listing=foreign, description="Foreign", quantity="1", unit="ea", unit_price="1")],
        )
    assert not Proposal.objects.filter(sales_order=so).exists()


@pytest.mark.parametrize("rate", ["5.555", "500", "-1"])
def test_a_proposal_tax_rate_follows_the_one_rule(trade, rate):
    so = trade.sent().sales_order
    with pytest.raises(DomainError, match="at most 2 decimals"):
        negotiation.save_proposal(so=so, by=trade.sales, header=proposal_header(tax_rate=rate), lines={}, added=[])
    row = added_line(description="Pallet", quantity="1", unit="ea", unit_price="1", tax_rate=rate)
    with pytest.raises(DomainError, match="at most 2 decimals"):
        negotiation.save_proposal(so=so, by=trade.sales, header=proposal_header(), lines={}, added=[row])


def test_a_quantity_that_is_not_a_number_is_refused_not_raised(trade):
    po = trade.confirmed()
    line = po.lines.get()
    with pytest.raises(DomainError, match="type a number"):
        fulfilment.record_shipment(
            so=po.sales_order,
            by=member(trade.supplier, Role.FULFILMENT),
            lines={line.pk: Decimal("NaN")},
            shipped_on=timezone.localdate(),
        )


def test_the_proposal_page_marks_the_bad_added_row_as_it_shows_it_again(client, trade):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    page = client.post(
        url("so-proposal", trade.supplier, number=so.number),
        {"add-count": "2", "add-1-description": "Pallet", "add-1-quantity": "+1", "add-1-unit": "ea"},
    ).content.decode()
    # The blank first row is left out: "Pallet" comes back as the first added row, and it is marked.
    first_row = page.split('name="add-0-quantity"')[0].rsplit("<input", 1)[-1]
    assert "is-invalid" in first_row
    assert (
        'name="add-1-quantity"' not in page
        or "is-invalid" not in (page.split('name="add-1-quantity"')[0].rsplit("<input", 1)[-1])
    )


def test_a_price_break_that_cannot_be_read_says_why_next_to_it(client, trade):
    client.force_login(member(trade.supplier, Role.ADMIN).user)
    page = client.post(
        url("listing-new", trade.supplier),
        {
            "sku": "NEW-1",
            "name": "New",
            "unit": "ea",
            "currency": "USD",
            "unit_price": "2.00",
            "min_order_qty": "1",
            "is_active": "on",
            "breaks-TOTAL_FORMS": "1",
            "breaks-INITIAL_FORMS": "0",
            "breaks-0-min_quantity": "+10",
            "breaks-0-unit_price": "1",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    ).content.decode()
    assert "without a “+”" in page
    assert "Give both the quantity and its price" not in page


def test_a_full_receipt_of_an_unpaid_order_says_everything_is_received(client, trade):
    po = trade.confirmed()
    line = po.lines.get()
    client.force_login(member(trade.customer, Role.RECEIVER).user)
    response = client.post(
        url("po-receive", trade.customer, number=po.number),
        {"received_on": timezone.localdate().isoformat(), f"line-{line.pk}-quantity": f"{line.quantity:f}"},
        follow=True,
    )
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.RECEIVED
    assert "everything is received" in response.content.decode()
