"""Lines in bulk: rows pasted from a spreadsheet into a draft (read like one line each, checked by
the service, all or none) and *Order again* (a new draft with an order's lines at today's prices)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.roles import Role
from accounts.services import suspend_connection
from orders import selectors
from orders.models import PriceBreak, PurchaseOrder
from orders.paste import MAX_ROWS, PasteLinesForm, read_rows
from orders.services import drafts, listings
from procurement.errors import DomainError, NotAllowed
from tests.factories import (
    CostCenterFactory,
    ListingFactory,
    LocationFactory,
    Trade,
    line_input,
    listing_values,
    member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def paste(trade, po, text, *, cost_center=None, tax_rate="0"):
    """What the paste form reads of ``text``: (row, LineInput) pairs and the problems as sentences."""
    form = PasteLinesForm(
        {"paste-text": text, "paste-cost_center": cost_center.pk if cost_center else "", "paste-tax_rate": tax_rate},
        prefix="paste",
        po=po,
        cost_centers=selectors.cost_centers_of(trade.customer),
        gl_accounts=selectors.gl_accounts_of(trade.customer),
    )
    assert form.is_valid(), form.errors
    lines, problems = form.lines()
    return lines, [str(p) for p in problems]


# --- the service: several lines, all or none ------------------------------------------------


def test_add_lines_checks_every_line_first_and_names_each_bad_one(trade):
    po = trade.draft(lines=[])
    good = line_input(listing=trade.listing, quantity="4", cost_center=trade.cost_center)
    no_price = line_input(description="Fitting", quantity="2", unit="h", cost_center=trade.cost_center)
    bad_quantity = line_input(listing=trade.listing, quantity="1.5", cost_center=trade.cost_center)
    with pytest.raises(drafts.LinesRefused) as refused:
        drafts.add_lines(by=trade.buyer, po=po, lines=[good, no_price, good, bad_quantity])
    assert [(e.line, e.field) for e in refused.value.errors] == [(1, "unit_price"), (3, "quantity")]
    assert refused.value.message == "Line 2: Enter the unit price of the custom item."
    assert not po.lines.exists()  # one bad row writes nothing
    po.refresh_from_db()
    assert po.total == 0


def test_a_listing_line_keeps_the_suppliers_price_and_a_different_one_is_refused(trade):
    po = trade.draft(lines=[])
    PriceBreak.objects.create(listing=trade.listing, min_quantity=10, unit_price=Decimal("2.00"))
    at_break = line_input(listing=trade.listing, quantity="10", unit_price="2", cost_center=trade.cost_center)
    (line,) = drafts.add_lines(by=trade.buyer, po=po, lines=[at_break])  # the same price, as typed
    assert line.unit_price == Decimal("2.00")
    cheaper = line_input(listing=trade.listing, quantity="1", unit_price="1.00", cost_center=trade.cost_center)
    with pytest.raises(DomainError) as refused:
        drafts.add_line(by=trade.buyer, po=po, values=cheaper)
    assert refused.value.field == "unit_price"
    assert refused.value.message == (
        "BOLT costs 2.50 USD at this quantity (the supplier's price): leave the price out, or give that price."
    )


# --- reading pasted rows ----------------------------------------------------------------------


def test_rows_copied_from_a_spreadsheet_are_tab_separated_with_an_optional_header(trade):
    po = trade.draft(lines=[])
    text = "SKU\tQty\tUnit price\tCost center\r\nbolt\t12\t\t\r\nInstallation\t1,234.50\t45.00\t" + (
        trade.cost_center.code.lower() + "\r\n\r\n"
    )
    lines, problems = paste(trade, po, text, cost_center=trade.cost_center)
    assert problems == []
    (row2, bolt), (row3, custom) = lines
    assert (row2, bolt.listing, bolt.quantity, bolt.unit_price) == (2, trade.listing, Decimal("12"), None)
    assert (row3, custom.listing, custom.description, custom.quantity) == (
        3,
        None,
        "Installation",
        Decimal("1234.50"),
    )
    assert (custom.unit_price, custom.unit, custom.cost_center) == (Decimal("45.00"), "ea", trade.cost_center)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BOLT,3\nNut;4", [("BOLT", "3"), ("Nut;4", "")]),  # commas: the first row decides
        ("BOLT;3;;\nCrate;2;4.50", [("BOLT", "3"), ("Crate", "2")]),
        ('"Bolt, big";"3"', [("Bolt, big", "3")]),
        ("Qty,SKU\n5,BOLT", [("BOLT", "5")]),  # a header may put the columns in another order
    ],
)
def test_comma_and_semicolon_rows_are_read_too(text, expected):
    rows, problems = read_rows(text)
    assert problems == []
    assert [(row.cells.get("item", ""), row.cells.get("quantity", "")) for row in rows] == expected


def test_the_shape_of_the_paste_is_checked_before_any_row(trade):
    assert [str(p) for p in read_rows("Item\tColour\n")[1]] == [
        "Row 1: Unknown column “Colour” (the columns are: SKU or description, SKU, description, quantity, "
        "unit price, cost center, unit)."
    ]
    assert [str(p) for p in read_rows("\n \n")[1]] == ["Row 1: Paste at least one row."]
    too_many = "\n".join(f"Thing {i}\t1\t1" for i in range(MAX_ROWS + 1))
    assert [str(p) for p in read_rows(too_many)[1]] == [f"Row {MAX_ROWS + 1}: Paste at most 500 rows at a time."]
    assert [str(p) for p in read_rows("BOLT\t1\t\tCC\tsurplus\n")[1]] == [
        "Row 1: It has more cells than there are columns (4): “surplus”."
    ]


@given(st.text(alphabet=st.sampled_from('ab1,.;\t\r\n" \x00'), max_size=200) | st.text(max_size=200))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_read_into_rows_or_refused_in_words(text):
    rows, problems = read_rows(text)
    assert rows or problems
    assert not any(problem.message.startswith("The rows cannot be read") for problem in problems)


def test_each_row_is_read_like_one_line_and_its_problems_name_row_and_column(trade):
    po = trade.draft(lines=[])
    text = "\n".join(
        [
            "BOLT\t2",
            "BOLT\tmany",
            "Crate\t1,5\t3",  # a comma that may be a decimal comma
            "Crate\t2\t1.234,50",
            "Crate\t\t3",
            "BOLT\t2\t\tNOPE",
            "Glue\t2\t1.50\t\tx",
        ]
    )
    lines, problems = paste(trade, po, text, cost_center=trade.cost_center)
    assert problems == [
        "Row 2, quantity: “many” is not a number.",
        "Row 3, quantity: “1,5” could be 15 or 1.5: type it with a point for decimals and no comma (e.g. 1234.50).",
        "Row 4, unit price: “1.234,50” has a decimal comma: type it with a point for decimals (e.g. 1234.50).",
        "Row 5, quantity: Give the quantity.",
        "Row 6, cost center: “NOPE” is not one of your active cost centers (give its code).",
        "Row 7: It has more cells than there are columns (4): “x”.",
    ]
    assert [row for row, _ in lines] == [1]


def test_a_row_without_a_cost_center_takes_the_chosen_one_or_says_so(trade):
    po = trade.draft(lines=[])
    other = CostCenterFactory(organization=trade.customer, code="OPS", name="Operations")
    lines, problems = paste(trade, po, "BOLT\t1\nBOLT\t2\t\tOperations\nBOLT\t3\t\tops")
    assert problems == ["Row 1, cost center: Give the row a cost center, or choose one for rows without one."]
    assert [values.cost_center for _, values in lines] == [other, other]


def test_only_the_suppliers_active_listings_are_found_by_sku(trade):
    po = trade.draft(lines=[])
    ListingFactory(sku="ELSEWHERE")  # another supplier's
    ListingFactory(supplier=trade.supplier, sku="OLD", is_active=False)
    lines, problems = paste(trade, po, "ELSEWHERE\t1\nOLD\t1\nbolt\t1", cost_center=trade.cost_center)
    assert problems == []
    assert [(v.listing, v.description) for _, v in lines] == [(None, "ELSEWHERE"), (None, "OLD"), (trade.listing, "")]
    with pytest.raises(drafts.LinesRefused) as refused:  # not listings: custom items, which need a price
        drafts.add_lines(by=trade.buyer, po=po, lines=[v for _, v in lines])
    assert [(e.line, e.field) for e in refused.value.errors] == [(0, "unit_price"), (1, "unit_price")]


# --- the page -----------------------------------------------------------------------------------


def _paste_url(po):
    return reverse("orders:po-lines-paste", args=[po.customer.slug, po.number])


def test_the_page_lists_every_problem_by_row_keeps_the_text_and_adds_nothing(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    page = client.get(reverse("orders:po-detail", args=[po.customer.slug, po.number])).content.decode()
    assert 'id="paste-lines"' in page and _paste_url(po) in page
    text = "SKU\tQuantity\tPrice\nBOLT\t4\nFitting\t2\nBOLT\tlots\n"
    response = client.post(
        _paste_url(po), {"paste-text": text, "paste-cost_center": trade.cost_center.pk, "paste-tax_rate": "0"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was added: 2 problems (below)." in body
    assert "<li>Row 3, unit price: Enter the unit price of the custom item.</li>" in body  # the service's
    assert "<li>Row 4, quantity: “lots” is not a number.</li>" in body  # the form's
    assert "SKU\tQuantity\tPrice\nBOLT\t4\nFitting\t2\nBOLT\tlots\n</textarea>" in body  # kept for correcting
    assert "<details open>" in body
    assert not po.lines.exists()

    fixed = text.replace("Fitting\t2", "Fitting\t2\t40").replace("lots", "6")
    response = client.post(
        _paste_url(po), {"paste-text": fixed, "paste-cost_center": trade.cost_center.pk, "paste-tax_rate": "10"}
    )
    assert response.status_code == 302
    assert [(line.sku, line.description, line.quantity, line.unit_price, line.tax_rate) for line in po.lines.all()] == [
        ("BOLT", "Bolt", Decimal("4"), Decimal("2.50"), Decimal("10")),
        ("", "Fitting", Decimal("2"), Decimal("40.00"), Decimal("10")),
        ("BOLT", "Bolt", Decimal("6"), Decimal("2.50"), Decimal("10")),
    ]
    assert "3 lines added from the pasted rows." in client.get(response["Location"]).content.decode()


def test_a_wrong_listing_price_is_a_problem_of_its_row(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(_paste_url(po), {"paste-text": "BOLT,3,1.99", "paste-cost_center": trade.cost_center.pk})
    assert response.status_code == 400
    assert "Row 1, unit price: BOLT costs 2.50 USD at this quantity" in response.content.decode()
    assert not po.lines.exists()


def test_too_much_text_is_refused_with_a_sentence(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(_paste_url(po), {"paste-text": "x" * 100_001})
    assert "That is more than 100,000 characters: paste at most 500 rows at a time." in response.content.decode()
    assert response.status_code == 400


def test_the_paste_reads_listings_once_whatever_the_number_of_rows(
    client, trade, django_assert_max_num_queries, django_assert_num_queries
):
    po = trade.draft(lines=[])
    others = [ListingFactory(supplier=trade.supplier, sku=f"P-{i}") for i in range(30)]
    client.force_login(trade.buyer.user)
    data = {"paste-cost_center": trade.cost_center.pk, "paste-tax_rate": "0"}

    def post(count):
        text = "\n".join(f"{listing.sku}\t1" for listing in others[:count])
        return client.post(_paste_url(po), {**data, "paste-text": text})

    assert post(1).status_code == 302  # the session and the log-in read once
    with django_assert_max_num_queries(30) as few:
        assert post(2).status_code == 302
    with django_assert_num_queries(len(few.captured_queries)):
        assert post(30).status_code == 302
    assert po.lines.count() == 33


def test_another_organizations_draft_answers_404_and_gains_nothing(client, trade):
    po = trade.draft(lines=[])
    stranger = Trade()
    client.force_login(stranger.buyer.user)
    for org in (stranger.customer, trade.customer):
        url = reverse("orders:po-lines-paste", args=[org.slug, po.number])
        assert client.post(url, {"paste-text": "BOLT\t1"}).status_code == 404
        url = reverse("orders:po-order-again", args=[org.slug, po.number])
        assert client.post(url).status_code == 404
    assert not po.lines.exists()
    assert PurchaseOrder.objects.count() == 1


def test_a_colleague_who_may_not_edit_the_draft_adds_nothing(client, trade):
    po = trade.draft(lines=[])
    colleague = member(trade.customer, Role.BUYER)
    client.force_login(colleague.user)
    response = client.post(_paste_url(po), {"paste-text": "BOLT\t1", "paste-cost_center": trade.cost_center.pk})
    assert response.status_code == 302
    assert not po.lines.exists()
    page = client.get(response["Location"]).content.decode()
    assert "or an admin can change draft" in page and 'id="paste-lines"' not in page


# --- order again --------------------------------------------------------------------------------


def test_order_again_copies_the_lines_at_todays_prices(trade):
    ship_to = LocationFactory(organization=trade.customer)
    gone = ListingFactory(supplier=trade.supplier, sku="GONE", name="Old part", unit_price=Decimal("1.00"))
    po = trade.confirmed(
        ship_to=ship_to,
        lines=[
            {"listing": trade.listing, "quantity": "10", "tax_rate": "20", "gl_account": trade.gl_account},
            {"description": "Crate", "quantity": "5", "unit": "ea", "unit_price": "4.00", "department": "Ops"},
            {"listing": gone, "quantity": "3"},
        ],
    )
    listings.save_listing(
        by=trade.sales,
        values=listing_values(
            trade.sales, {"sku": "BOLT", "name": "Bolt", "unit": "ea", "currency": "USD", "unit_price": "3.00"}
        ),
        listing=trade.listing,
    )
    listings.set_listing_active(by=trade.sales, listing=gone, active=False)
    result = drafts.order_again(by=trade.buyer, po=po)
    new = result.po
    assert new.status == "draft" and new.number != po.number and new.requester == trade.buyer.user
    assert (new.supplier, new.currency, new.ship_to, new.connection) == (
        po.supplier,
        po.currency,
        ship_to,
        po.connection,
    )
    assert [
        (line.position, line.sku, line.quantity, line.unit_price, line.tax_rate, line.gl_account, line.department)
        for line in new.lines.all()
    ] == [
        (1, "BOLT", Decimal("10"), Decimal("3.00"), Decimal("20"), trade.gl_account, ""),  # today's price
        (2, "", Decimal("5"), Decimal("4.00"), Decimal("0"), None, "Ops"),  # a custom item keeps its price
    ]
    assert result.left_out == [f"GONE Old part (no longer an active listing of {trade.supplier.name})"]
    assert [line.unit_price for line in po.lines.all()] == [Decimal("2.50"), Decimal("4.00"), Decimal("1.00")]
    new.refresh_from_db()
    assert new.total == Decimal("56.00")  # 30 + 6 tax + 20


def test_order_again_is_refused_when_the_connection_is_not_active_or_nothing_can_be_copied(trade):
    po = trade.sent()
    suspend_connection(by=trade.customer_admin, connection=trade.connection)
    po = PurchaseOrder.objects.select_related("connection", "supplier").get(pk=po.pk)
    with pytest.raises(DomainError, match="is suspended: no new order can be raised to it"):
        drafts.order_again(by=trade.buyer, po=po)
    assert PurchaseOrder.objects.count() == 1

    other = Trade()
    po = other.draft()
    listings.set_listing_active(by=other.sales, listing=other.listing, active=False)
    with pytest.raises(DomainError, match=r"^No line of PO-\d+ can be ordered again: BOLT Bolt \(no longer"):
        drafts.order_again(by=other.buyer, po=po)
    with pytest.raises(NotAllowed):
        drafts.order_again(by=member(other.customer, Role.RECEIVER), po=po)
    assert PurchaseOrder.objects.filter(customer=other.customer).count() == 1


def test_the_order_again_button_makes_a_draft_and_says_what_was_left_out(client, trade):
    po = trade.sent()
    client.force_login(trade.buyer.user)
    url = reverse("orders:po-detail", args=[po.customer.slug, po.number])
    again = reverse("orders:po-order-again", args=[po.customer.slug, po.number])
    assert f'action="{again}"' in client.get(url).content.decode()
    assert client.get(again)["Location"] == url  # POST only
    response = client.post(again)
    new = PurchaseOrder.objects.exclude(pk=po.pk).get()
    assert response["Location"] == reverse("orders:po-detail", args=[po.customer.slug, new.number])
    page = client.get(response["Location"]).content.decode()
    assert f"Draft {new.number} created from {po.number} at today&#x27;s prices" in page
    assert new.lines.get().quantity == Decimal("10")
