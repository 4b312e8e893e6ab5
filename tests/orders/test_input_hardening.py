"""Input a security probe sent to the order pages: never a 500, a clear error next to the
field, nothing written — and the same rules in the services behind them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from orders.forms import LinePreviewForm
from orders.models import Proposal, PurchaseOrder, Shipment
from orders.services import drafts, fulfilment, negotiation, thread
from procurement.errors import DomainError
from procurement.money import MoneyError, parse_decimal, parse_price
from procurement.validators import INTEGER_MAX, parse_integer
from tests.factories import Trade, line_input, member, proposal_line

pytestmark = pytest.mark.django_db

FAR_PAST, FAR_FUTURE = "0001-01-01", "9999-12-31"
NO_PREVIEW = '<span class="text-muted">—</span>'


@pytest.fixture
def trade():
    return Trade()


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


# ------------------------------------------------------------------ the proposal's add-count


@pytest.mark.parametrize("count", ["abc", "1e309", "-1", "53", "٥", "+2", "\x00", "99999999999999999999999"])
def test_a_bad_add_count_is_a_clear_error_and_saves_nothing(client, trade, count):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    response = client.post(
        url("so-proposal", trade.supplier, number=so.number),
        {"add-count": count, "add-0-description": "Pallet", "add-0-quantity": "1", "add-0-unit": "ea"},
    )
    assert response.status_code == 400
    assert "The added lines could not be read: add them again." in response.content.decode()
    assert not Proposal.objects.exists()


def test_at_most_fifty_lines_are_added(client, trade):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    rows = {}
    for i in range(51):
        rows.update({f"add-{i}-description": f"Item {i}", f"add-{i}-quantity": "1", f"add-{i}-unit": "ea"})
        rows[f"add-{i}-unit_price"] = "1"
    response = client.post(url("so-proposal", trade.supplier, number=so.number), {"add-count": "52", **rows})
    assert response.status_code == 400
    assert "At most 50 lines can be added to an order." in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_good_add_count_reads_its_rows(client, trade):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    response = client.post(
        url("so-proposal", trade.supplier, number=so.number),
        {
            "add-count": "1",
            "add-0-description": "Pallet",
            "add-0-quantity": "1",
            "add-0-unit": "pallet",
            "add-0-unit_price": "20.00",
        },
    )
    assert response.status_code == 302
    assert [p.description for p in Proposal.objects.get().lines.all() if p.action == "add"] == ["Pallet"]


# ------------------------------------------------------------------------ the line preview


@pytest.mark.parametrize("listing", ["abc", "1.5", "NaN", "٥", "+1", "-1", "99999999999999999999999"])
def test_the_line_preview_answers_an_empty_preview_to_a_bad_listing(client, trade, listing):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    preview = url("po-line-preview", trade.customer, number=po.number)
    response = client.get(preview, {"listing": listing, "quantity": "4"})
    assert response.status_code == 200
    assert response.content.decode() == NO_PREVIEW


def test_the_line_preview_shows_the_amount_of_a_good_listing(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.get(
        url("po-line-preview", trade.customer, number=po.number), {"listing": str(trade.listing.pk), "quantity": "4"}
    )
    assert response.status_code == 200 and response.content.decode().startswith("10.00 USD")


@pytest.mark.parametrize("name", ["listing", "quantity", "unit_price", "tax_rate", "unit"])
def test_a_nul_byte_never_reaches_a_query(client, trade, name):
    """On PostgreSQL psycopg raises on a NUL in any query: the request is refused before any
    view (400), and the preview's form refuses it too, should one get that far."""
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.get(url("po-line-preview", trade.customer, number=po.number), {name: "1\x00"})
    assert response.status_code == 400
    assert not LinePreviewForm({name: "1\x00"}).is_valid()
    assert client.get(url("po-detail", trade.customer, number="PO-\x00")).status_code == 400
    assert client.get(url("po-new", trade.customer), {"supplier": "\x00"}).status_code == 400


def test_the_line_preview_of_an_amount_no_column_holds_is_empty(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.get(
        url("po-line-preview", trade.customer, number=po.number),
        {"quantity": "2147483648", "unit_price": "100000", "unit": "ea"},
    )
    assert response.status_code == 200 and response.content.decode() == NO_PREVIEW


@pytest.mark.parametrize("value", ["²", "٥", "abc", "99999999999999999999999"])
def test_other_ids_in_urls_never_answer_500(client, trade, value):
    """The line being edited, the picker's chosen listing and its search, the shipment to
    receive, the colleague to share with: each read with the shared integer parser (or a
    form), never int() of raw text ("²".isdigit() is true, int("²") raises)."""
    draft = trade.draft()
    client.force_login(trade.buyer.user)
    assert client.get(url("po-detail", trade.customer, number=draft.number), {"edit": value}).status_code == 200
    picker = url("po-listing-picker", trade.customer, number=draft.number)
    assert client.get(picker, {"listing": value, "q": value}).status_code == 200
    client.force_login(trade.customer_admin.user)
    confirmed = trade.confirmed()
    assert (
        client.get(url("po-receive", trade.customer, number=confirmed.number), {"shipment": value}).status_code == 200
    )
    for member_pk in (value, "\x00"):
        response = client.post(url("po-share", trade.customer, number=draft.number), {"member": member_pk})
        assert response.status_code == 302


# ------------------------------------------------------------------------ numbers and caps


@pytest.mark.parametrize("raw", ["٥", "+5", "５", "1e3", "1_000", " 5 5", "-", ".", "NaN", "Infinity", "1" * 41])
def test_parse_decimal_takes_ascii_digits_only(raw):
    with pytest.raises(MoneyError):
        parse_decimal(raw)


def test_parse_decimal_still_takes_plain_numbers():
    assert parse_decimal("12.50") == Decimal("12.50") and parse_decimal("-3") == Decimal("-3")
    assert parse_decimal(".5") == Decimal("0.5") and parse_decimal(" 7 ") == Decimal("7")


def test_parse_price_refuses_a_sign_other_digits_and_more_than_the_column_holds():
    for raw in ("+5", "٥", "-1", "100000000000000"):
        with pytest.raises(MoneyError):
            parse_price(raw, "USD")
    assert parse_price("99999999999999.99", "USD") == Decimal("99999999999999.99")


@pytest.mark.parametrize(
    "raw,expected",
    [("5", 5), ("-5", -5), ("٥", None), ("+5", None), ("²", None), ("5.0", None), ("", None), (None, None)],
)
def test_parse_integer(raw, expected):
    assert parse_integer(raw) == expected


def test_parse_integer_keeps_to_the_column():
    assert parse_integer("2147483648") == 2147483648  # an id: bigint
    assert parse_integer("9223372036854775808") is None
    assert parse_integer("2147483648", maximum=INTEGER_MAX) is None
    assert parse_integer("0", minimum=1) is None


@pytest.mark.parametrize("quantity", ["٥", "+5", "-5", "1e3"])
def test_the_line_form_refuses_other_digits_and_signs_next_to_the_quantity(client, trade, quantity):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {"listing": trade.listing.pk, "quantity": quantity, "cost_center": trade.cost_center.pk, "tax_rate": "0"},
    )
    assert response.status_code == 400
    assert "quantity" in response.context["line_form"].errors
    assert f'value="{quantity}"' in response.content.decode()  # what was typed stays
    assert not po.lines.exists()


@pytest.mark.parametrize("listing", ["٥", "+1"])
def test_the_line_form_refuses_a_listing_id_in_other_digits(client, trade, listing):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {"listing": listing, "quantity": "1", "cost_center": trade.cost_center.pk, "tax_rate": "0"},
    )
    assert response.status_code == 400 and "listing" in response.context["line_form"].errors
    assert not po.lines.exists()


def test_a_line_whose_amount_no_column_holds_is_refused_next_to_the_quantity(client, trade):
    """999,999,999 units (the most a line takes) fit the quantity column; at 1,000,000.00 each the
    line does not fit the amount column (PostgreSQL refused the row with a 500; SQLite kept a
    number it could not read)."""
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {
            "description": "Gold",
            "quantity": "999999999",
            "unit": "ea",
            "unit_price": "1000000",
            "cost_center": trade.cost_center.pk,
            "tax_rate": "0",
        },
    )
    assert response.status_code == 400
    message = response.context["line_form"].errors["quantity"][0]
    assert message.startswith("The line's amount would be more than 99,999,999,999,999.99 USD")
    assert not po.lines.exists()
    po.refresh_from_db()
    assert po.total == 0


def test_order_totals_no_column_holds_are_refused_and_nothing_is_written(trade):
    po = trade.draft(lines=[])
    line = {"description": "Gold", "unit": "ea", "unit_price": "60000000000000", "quantity": "1"}
    drafts.add_line(by=trade.buyer, po=po, values=line_input(cost_center=trade.cost_center, **line))
    with pytest.raises(DomainError, match="The order's total would be more than"):
        drafts.add_line(by=trade.buyer, po=po, values=line_input(cost_center=trade.cost_center, **line))
    assert po.lines.count() == 1
    assert PurchaseOrder.objects.get(pk=po.pk).total == Decimal("60000000000000")


def test_the_supplier_cannot_change_a_line_beyond_the_column_either(trade):
    so = trade.sent().sales_order
    line = so.purchase_order.lines.get()
    with pytest.raises(DomainError, match="The line's amount would be more than") as exc:
        negotiation.save_proposal(
            so=so,
            by=trade.sales,
            lines={line.pk: proposal_line(action="change", quantity="999999999", unit_price="99999999")},
        )
    assert (exc.value.line, exc.value.field) == (line.pk, "quantity")
    assert not Proposal.objects.exists()


@pytest.mark.parametrize("terms", ["٥", "+5", "366", "2147483648", "1_0"])
def test_payment_terms_in_the_proposal_are_ascii_days_within_a_year(client, trade, terms):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    response = client.post(url("so-proposal", trade.supplier, number=so.number), {"payment_terms_days": terms})
    assert response.status_code == 400
    assert "from 0 to 365" in response.context["header_form"].errors["payment_terms_days"][0]
    assert not Proposal.objects.exists()


# ------------------------------------------------------------------------------ dates


@pytest.mark.parametrize("typed", [FAR_PAST, FAR_FUTURE, "1999-12-31"])
def test_order_dates_keep_to_a_sensible_window_next_to_the_field(client, trade, typed):
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-new", trade.customer),
        {"connection": trade.connection.pk, "expected_delivery_date": typed, "valid_until": typed},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Enter a date from 1 Jan 2000" in str(errors["expected_delivery_date"])
    assert "Enter a date from 1 Jan 2000" in str(errors["valid_until"])
    assert f'value="{typed}"' in response.content.decode()
    assert not PurchaseOrder.objects.exists()


def test_ten_years_ahead_is_still_a_business_date(trade):
    later = timezone.localdate() + timedelta(days=3650)
    po = drafts.create_purchase_order(by=trade.buyer, connection=trade.connection, expected_delivery_date=later)
    assert po.expected_delivery_date == later


@pytest.mark.parametrize("field", ["promised_date", "backorder_date"])
def test_the_suppliers_line_dates_keep_to_the_window(trade, field):
    so = trade.sent().sales_order
    line = so.purchase_order.lines.get()
    values = {"action": "backorder", "backorder_quantity": "2", "backorder_date": "2030-01-01", field: FAR_FUTURE}
    with pytest.raises(DomainError, match="Enter a date from") as exc:
        negotiation.save_proposal(so=so, by=trade.sales, lines={line.pk: proposal_line(**values)})
    assert (exc.value.line, exc.value.field) == (line.pk, field)
    assert not Proposal.objects.exists()


def test_the_proposal_header_dates_keep_to_the_window_through_the_page(client, trade):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    response = client.post(url("so-proposal", trade.supplier, number=so.number), {"invoice_due_date": FAR_FUTURE})
    assert response.status_code == 400
    assert "Enter a date from" in response.content.decode()
    assert not Proposal.objects.exists()


def test_shipments_and_receipts_keep_to_the_window(trade):
    po = trade.confirmed()
    line = po.lines.get()
    with pytest.raises(DomainError, match="Enter a date from") as exc:
        fulfilment.record_shipment(
            so=po.sales_order,
            by=member(trade.supplier, Role.ADMIN),
            lines={line.pk: Decimal("1")},
            shipped_on=date(1, 1, 1),
        )
    assert exc.value.field == "shipped_on" and not Shipment.objects.exists()


# ------------------------------------------------------------------------------ plain text


@pytest.mark.parametrize("body", ["a\x00b", "bell\x07", "<script>alert(1)</script>"])
def test_the_thread_refuses_control_characters_and_markup(trade, body):
    po = trade.sent()
    with pytest.raises(DomainError) as exc:
        thread.post_message(po=po, by=trade.buyer, body=body)
    assert exc.value.field == "body"
    assert not po.events.filter(kind="message").exists()


def test_the_proposal_header_refuses_markup_next_to_the_field(client, trade):
    so = trade.sent().sales_order
    client.force_login(trade.sales.user)
    response = client.post(
        url("so-proposal", trade.supplier, number=so.number), {"supplier_contact": "<b>Ann</b>", "note": "Hi"}
    )
    assert response.status_code == 400
    assert "HTML tags" in str(response.context["header_form"].errors["supplier_contact"])
    assert not Proposal.objects.exists()
