"""Issue 18, the order side: each defect as a test that failed before its fix."""

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import ListingFactory, Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


# ------------------------------------------------------------ 5. search by SKU on both lists


@pytest.mark.parametrize("term", ["ACM-1100", "1100", "acm-1100"])
def test_search_by_sku_finds_the_orders_on_both_lists(client, trade, term, django_assert_max_num_queries):
    widget = ListingFactory(supplier=trade.supplier, sku="ACM-1100", name="Widget")
    with_sku = trade.sent(lines=[{"listing": widget, "quantity": "3"}])
    without = trade.sent()
    client.force_login(trade.buyer.user)
    client.get(url("po-list", trade.customer))
    with django_assert_max_num_queries(7):
        page = client.get(url("po-list", trade.customer), {"q": term}).content.decode()
    assert with_sku.number in page and without.number not in page
    client.force_login(trade.sales.user)
    client.get(url("so-list", trade.supplier))
    with django_assert_max_num_queries(7):
        page = client.get(url("so-list", trade.supplier), {"q": term}).content.decode()
    assert with_sku.sales_order.number in page and without.sales_order.number not in page


def test_search_by_number_still_finds_the_order(client, trade):
    first, second = trade.sent(), trade.sent()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-list", trade.customer), {"q": first.number}).content.decode()
    assert first.number in page and second.number not in page
    client.force_login(trade.sales.user)
    page = client.get(url("so-list", trade.supplier), {"q": second.sales_order.number}).content.decode()
    assert second.sales_order.number in page and first.sales_order.number not in page
    page = client.get(url("so-list", trade.supplier), {"q": first.number}).content.decode()
    assert first.sales_order.number in page and second.sales_order.number not in page


# ------------------------------------------- 2. a ship-to typed with CRLF is no change


def test_text_input_is_normalized_where_it_is_parsed():
    from orders.forms import ProposalHeaderForm
    from procurement.validators import clean_text

    form = ProposalHeaderForm({"ship_to_address": "  Seattle warehouse  \r\n1 Main St \r\rSeattle\r\n", "note": "a\rb"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["ship_to_address"] == "Seattle warehouse\n1 Main St\n\nSeattle"
    assert form.cleaned_data["note"] == "a\nb"
    assert clean_text("x \r\ny\r\n", "note") == "x\ny"  # a service called directly, the same


def _ship_to_order(trade):
    from tests.factories import LocationFactory

    seattle = LocationFactory(organization=trade.customer, name="Seattle warehouse")
    po = trade.sent(ship_to=seattle)
    assert "\n" in po.ship_to_address
    return po


def test_accepting_with_the_ship_to_as_the_browser_sends_it_changes_nothing(
    client, trade, django_capture_on_commit_callbacks, mailoutbox
):
    po = _ship_to_order(trade)
    line = po.lines.get()
    client.force_login(trade.sales.user)
    form = {
        f"line-{line.pk}-action": "accept",
        f"line-{line.pk}-quantity": "10",
        f"line-{line.pk}-unit_price": "2.50",
        "ship_to_address": po.ship_to_address.replace("\n", "\r\n") + "\r\n",
        "payment_terms_days": str(po.payment_terms_days),
        "accept": "1",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("so-proposal", trade.supplier, number=po.sales_order.number), form)
    assert response.status_code == 302
    event = po.events.get(kind="accepted")
    assert "ship-to" not in event.body.lower() and "no changes" in event.body
    assert event.data["header"] == {} and event.data["changes"] == []
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Ship-to address" not in page and "ship-to address" not in page
    accepted = [m for m in mailoutbox if "accepted" in m.subject.lower()]
    assert accepted and all("ship-to" not in m.body.lower() for m in accepted)


def test_an_address_stored_with_crlf_is_no_change_either(trade):
    from orders.models import PurchaseOrder
    from orders.services import negotiation
    from tests.factories import proposal_line

    po = _ship_to_order(trade)
    PurchaseOrder.objects.filter(pk=po.pk).update(ship_to_address=po.ship_to_address.replace("\n", "\r\n"))
    negotiation.accept_with_proposal(
        so=po.sales_order,
        by=trade.sales,
        header=negotiation.ProposalHeader(ship_to_address=po.ship_to_address),
        lines={po.lines.get().pk: proposal_line(action="accept")},
    )
    assert po.events.get(kind="accepted").data["header"] == {}


# ------------------------------------------------- 3. a backorder keeps the typed quantity


def test_a_backorder_keeps_the_quantity_the_supplier_typed(trade):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from orders.services import negotiation
    from tests.factories import proposal_line

    po = trade.sent(lines=[{"listing": trade.listing, "quantity": "25"}])
    line = po.lines.get()
    later = timezone.localdate() + timedelta(days=30)
    negotiation.accept_with_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={
            line.pk: proposal_line(
                action="backorder", quantity=Decimal(30), backorder_quantity=Decimal(5), backorder_date=later
            )
        },
    )
    line.refresh_from_db()
    assert (line.quantity, line.backorder_quantity, line.backorder_date) == (30, 5, later)
    assert "quantity 25 → 30" in po.events.get(kind="accepted").body


def test_a_backorder_of_all_the_new_quantity_is_refused_next_to_it(trade):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from orders.services import negotiation
    from procurement.errors import DomainError
    from tests.factories import proposal_line

    po = trade.sent(lines=[{"listing": trade.listing, "quantity": "25"}])
    line = po.lines.get()
    with pytest.raises(DomainError) as refused:
        negotiation.save_proposal(
            so=po.sales_order,
            by=trade.sales,
            lines={
                line.pk: proposal_line(
                    action="backorder",
                    quantity=Decimal(4),
                    backorder_quantity=Decimal(5),
                    backorder_date=timezone.localdate() + timedelta(days=3),
                )
            },
        )
    assert refused.value.field == "backorder_quantity"


# -------------------------------------- 14. a rejected line needs a reason, said as such


def test_rejecting_a_line_without_a_reason_says_a_reason_is_needed(client, trade):
    po = trade.sent()
    line = po.lines.get()
    client.force_login(trade.sales.user)
    response = client.post(
        url("so-proposal", trade.supplier, number=po.sales_order.number),
        {f"line-{line.pk}-action": "reject", f"line-{line.pk}-reject_reason": "  "},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "This field is required" not in page
    assert "Line 1: Say why you reject the line" in page
    assert f'is-invalid" id="line-{line.pk}-reject_reason"' in page
    assert f'aria-describedby="line-{line.pk}-reject_reason-error"' in page


def test_the_changes_requested_banner_quotes_the_buyers_note(client, trade):
    from orders.services import negotiation

    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.request_changes(po=po, by=trade.buyer, note="Deliver to dock 4, please")
    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    banner = page[page.index("alert-warning") :][:400]
    assert "asks for changes" in banner and "Deliver to dock 4, please" in banner


# ---------------------------------------------------------------- 13. the new-order form


def test_the_new_order_form_asks_for_the_supplier(client, trade):
    from orders.models import PurchaseOrder

    client.force_login(trade.buyer.user)
    page = client.get(url("po-new", trade.customer)).content.decode()
    select = page[page.index('name="connection"') :]
    select = select[: select.index("</select>")]
    assert '<option value="" selected>Choose a supplier</option>' in select
    assert " selected" not in select.replace('<option value="" selected>', "")
    response = client.post(url("po-new", trade.customer), {"note_to_supplier": "Hi"})
    page = response.content.decode()
    assert "Choose the supplier to order from." in page and 'aria-invalid="true"' in page
    assert not PurchaseOrder.objects.exists() and "Hi</textarea>" in page


def test_the_listing_picker_shows_the_price_this_customer_pays(client, trade, django_assert_max_num_queries):
    from decimal import Decimal

    from orders.models import CustomerPrice, PriceBreak

    CustomerPrice.objects.create(listing=trade.listing, customer=trade.customer, unit_price=Decimal("2.10"))
    PriceBreak.objects.create(listing=trade.listing, min_quantity=Decimal(100), unit_price=Decimal("1.90"))
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "BOLT — Bolt · 2.10 USD / ea (your price) · less from 100" in page
    assert "2.50 USD / ea" not in page
    picker = url("po-listing-picker", trade.customer, number=po.number)
    client.get(picker, {"q": "bolt"})
    with django_assert_max_num_queries(9):
        page = client.get(picker, {"q": "bolt"}).content.decode()
    assert "2.10 USD / ea (your price)" in page and "2.50" not in page


def test_the_currency_cannot_change_once_the_draft_has_lines(client, trade):
    po = trade.draft()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    import re

    select = re.search(r'<select[^>]*name="currency"[^>]*>', page).group(0)
    assert " disabled" in select
    response = client.post(
        url("po-edit", trade.customer, number=po.number),
        {"currency": "EUR", "note_to_supplier": "Dock 4"},
    )
    assert response.status_code == 302
    po.refresh_from_db()
    assert (po.currency, po.note_to_supplier) == ("USD", "Dock 4")


# ----------------------------------------------------------------------------- 15. wording


def test_an_order_approved_at_once_says_it_once(client, trade):
    po = trade.sent()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert page.lower().count("approved at once") == 1


def test_the_sales_order_lines_are_captioned_with_the_sales_order_number(client, trade):
    po = trade.sent()
    from orders.services import negotiation

    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert f"Lines of {po.sales_order.number}</caption>" in page and f"Lines of {po.number}" not in page


def test_settings_say_an_organization_admin_changes_the_prefixes(client, trade):
    client.force_login(trade.customer_admin.user)
    page = client.get(reverse("accounts:settings", args=[trade.customer.slug])).content.decode()
    assert "platform admin" not in page
    assert f"an admin of {trade.customer.name} can change the prefixes" in page
    assert reverse("admin:accounts_organization_change", args=[trade.customer.pk]) in page


def test_a_declined_amendment_shows_on_the_buyers_order_page(client, trade):
    from decimal import Decimal

    from orders.services import amendments

    po = trade.confirmed()
    line = po.lines.get()
    amendment = amendments.request_amendment(
        po=po, by=trade.buyer, reason="Second crew", quantities={line.pk: Decimal(20)}
    )
    amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="No stock until May")
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert f"{trade.supplier.name} declined amendment 1" in page and "No stock until May" in page
    amendments.request_amendment(po=po, by=trade.buyer, reason="Third crew", quantities={line.pk: Decimal(15)})
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "declined amendment 1" not in page  # a newer one is open: that is what the page shows


# ------------------------------------------------------ a quantity beyond any sane bound


def test_the_quantity_bound_stays_within_every_quantity_column():
    from django.apps import apps

    from orders.units import QUANTITY_MAX

    columns = [
        f
        for model in apps.get_app_config("orders").get_models()
        for f in model._meta.get_fields()
        if getattr(f, "decimal_places", None) == 3 and "quantity" in f.name
    ]
    assert columns
    for field in columns:  # room for a running total of ten times the largest line (tolerances)
        assert Decimal(10) ** (field.max_digits - field.decimal_places) > QUANTITY_MAX * 10, field


HUGE = "99999999999"


def test_a_huge_quantity_on_a_draft_line_is_refused_next_to_the_field(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {"listing": trade.listing.pk, "quantity": HUGE, "cost_center": trade.cost_center.pk, "tax_rate": "0"},
    )
    page = response.content.decode()
    assert response.status_code == 400 and not po.lines.exists()
    assert 'id="id_quantity-error">The quantity can be at most 999,999,999.' in page
    assert f'value="{HUGE}"' in page


def test_a_huge_quantity_is_refused_wherever_it_is_typed(trade):
    from django.utils import timezone

    from orders.services import amendments, fulfilment, negotiation
    from procurement.errors import DomainError
    from tests.factories import added_line, proposal_line, receipt_line

    sent = trade.sent()
    line = sent.lines.get()
    with pytest.raises(DomainError, match="at most 999,999,999"):
        negotiation.save_proposal(
            so=sent.sales_order, by=trade.sales, lines={line.pk: proposal_line(action="change", quantity=HUGE)}
        )
    with pytest.raises(DomainError, match="at most 999,999,999"):
        negotiation.save_proposal(
            so=sent.sales_order,
            by=trade.sales,
            lines={},
            added=[added_line(description="Nut", quantity=HUGE, unit="ea", unit_price="0.01")],
        )
    po = trade.confirmed()
    line = po.lines.get()
    with pytest.raises(DomainError, match="at most 999,999,999"):
        amendments.request_amendment(po=po, by=trade.buyer, reason="More", quantities={line.pk: Decimal(HUGE)})
    with pytest.raises(DomainError, match="at most 999,999,999"):
        fulfilment.record_receipt(
            po=po,
            by=trade.customer_admin,
            lines={line.pk: receipt_line(quantity="1", damaged=HUGE, reason="Crushed")},
            received_on=timezone.localdate(),
        )


# --------------------------------------------- the receipt page after a validation error


@pytest.mark.parametrize("received_on", ["", "today"])
def test_the_receipt_page_keeps_the_notes_label_and_the_damaged_typed(client, trade, received_on):
    import re

    from django.utils import timezone

    from accounts.roles import Role
    from tests.factories import member

    po = trade.confirmed()
    line = po.lines.get()
    client.force_login(member(trade.customer, Role.RECEIVER).user)
    receive = url("po-receive", trade.customer, number=po.number)
    label = f"Note to {trade.supplier.name} (they see it with the receipt)"
    assert label in client.get(receive).content.decode()
    response = client.post(  # a form error (no date), or the service's (damaged without a reason)
        receive,
        {
            "shipment": "none",
            f"line-{line.pk}-quantity": "4",
            f"line-{line.pk}-damaged": "2",
            "received_on": timezone.localdate().isoformat() if received_on else "",
            "note": "Box wet",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert label in page and "Box wet</textarea>" in page
    damaged = re.search(rf'<input[^>]*name="line-{line.pk}-damaged"[^>]*>', page).group(0)
    assert 'value="2"' in damaged and 'placeholder="0"' not in damaged


# ------------------------------------------- field errors: marked for screen readers, in line


def _invalid_inputs_are_described(page: str) -> int:
    """Every input, select and textarea marked invalid says so (aria-invalid) and points at
    its message (aria-describedby, an id on the page); returns how many there are."""
    import re

    marked = re.findall(r"<(?:input|select|textarea)\b[^>]*\bis-invalid\b[^>]*>", page)
    for tag in marked:
        assert 'aria-invalid="true"' in tag, tag
        described = re.search(r'aria-describedby="([^"]+)"', tag)
        assert described, tag
        for target in described.group(1).split():
            assert f'id="{target}"' in page, (tag, target)
    return len(marked)


def test_the_amendment_forms_errors_are_described_on_their_inputs(client, trade):
    po = trade.confirmed(lines=[{"listing": trade.listing, "quantity": "10"}])
    line = po.lines.get()
    client.force_login(trade.buyer.user)
    amend = url("po-amend", trade.customer, number=po.number)
    lower = client.post(amend, {f"line-{line.pk}-quantity": "8", "reason": "Second crew"})
    assert lower.status_code == 400 and _invalid_inputs_are_described(lower.content.decode()) == 1
    no_reason = client.post(amend, {f"line-{line.pk}-quantity": "12", "reason": ""})
    assert no_reason.status_code == 400 and _invalid_inputs_are_described(no_reason.content.decode()) == 1


def test_an_error_on_the_proposal_keeps_the_rows_columns_in_line(client, trade):
    import re

    po = trade.sent()
    line = po.lines.get()
    client.force_login(trade.sales.user)
    proposal = url("so-proposal", trade.supplier, number=po.sales_order.number)
    response = client.post(proposal, {f"line-{line.pk}-action": "change", f"line-{line.pk}-quantity": "0"})
    page = response.content.decode()
    assert response.status_code == 400 and _invalid_inputs_are_described(page) == 1
    column = re.search(rf'<div class="[^"]*">\s*<label[^>]*for="line-{line.pk}-quantity".*?</div>', page, re.S).group(0)
    assert "invalid-feedback" not in column  # the message is on a line of its own below the row
    assert f'<div class="invalid-feedback d-block" id="line-{line.pk}-quantity-error">' in page
    added = client.post(
        proposal,
        {
            "add-count": "2",
            "add-0-description": "Washers",
            "add-0-quantity": "5",
            "add-0-unit": "parsec",
            "add-0-unit_price": "0.20",
        },
    )
    assert added.status_code == 400 and _invalid_inputs_are_described(added.content.decode()) == 1


# ------------------------------------ 11. a price to type over shows the currency's decimals


def test_prices_to_type_over_show_the_currencys_decimals(client, trade):
    """2.5 in a price input reads as "2.50" (as the pages show it), on the supplier's proposal,
    the buyer's line being edited and the listing form."""
    trade.listing.unit_price = Decimal("2.5")
    trade.listing.save()
    draft = trade.draft(lines=[{"description": "Custom crate", "quantity": "2", "unit": "ea", "unit_price": "12.5"}])
    client.force_login(trade.buyer.user)
    line = draft.lines.get()
    page = client.get(url("po-detail", trade.customer, number=draft.number), {"edit": line.pk}).content.decode()
    assert 'value="12.50"' in page and 'value="12.5"' not in page

    po = trade.sent(lines=[{"description": "Custom crate", "quantity": "2", "unit": "ea", "unit_price": "23.5"}])
    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert 'value="23.50"' in page and 'value="23.5"' not in page

    page = client.get(url("listing-edit", trade.supplier, pk=trade.listing.pk)).content.decode()
    assert 'value="2.50"' in page and 'value="2.5"' not in page


def test_the_backorder_badge_goes_once_the_rest_is_shipped_and_received(client, trade):
    """Walk-through: after all 30 arrived, line 1 still said "Backorder 5 ea by …"."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.roles import Role
    from orders.services import fulfilment, negotiation
    from tests.factories import member, proposal_line, receipt_line, shipped

    po = trade.sent(lines=[{"listing": trade.listing, "quantity": "30"}])
    line = po.lines.get()
    negotiation.accept_with_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={
            line.pk: proposal_line(
                action="backorder",
                backorder_quantity=Decimal(5),
                backorder_date=timezone.localdate() + timedelta(days=30),
            )
        },
    )
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    client.force_login(trade.buyer.user)
    page = url("po-detail", trade.customer, number=po.number)
    shipper, receiver = member(trade.supplier, Role.FULFILMENT), member(trade.customer, Role.RECEIVER)
    today = timezone.localdate()
    first = fulfilment.record_shipment(
        so=po.sales_order, by=shipper, lines=shipped({line.pk: Decimal(25)}), shipped_on=today
    )
    fulfilment.record_receipt(
        po=po, by=receiver, shipment=first, received_on=today, lines={line.pk: receipt_line(quantity=Decimal(25))}
    )
    assert ">Backorder</span> 5 ea" in client.get(page).content.decode()  # 5 still to come
    rest = fulfilment.record_shipment(
        so=po.sales_order, by=shipper, lines=shipped({line.pk: Decimal(5)}), shipped_on=today
    )
    fulfilment.record_receipt(
        po=po, by=receiver, shipment=rest, received_on=today, lines={line.pk: receipt_line(quantity=Decimal(5))}
    )
    assert ">Backorder</span>" not in client.get(page).content.decode()
