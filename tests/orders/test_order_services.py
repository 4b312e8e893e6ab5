"""The order pair's services: every transition of SPEC §4 (1–10, 16, 17) and every refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.roles import Role
from orders import revisions, selectors
from orders.forms import LineForm
from orders.models import OrderEvent, PurchaseOrder, PurchaseOrderLine, Revision, SalesOrder
from orders.services import drafts, listings, negotiation, submission, thread
from procurement.errors import DomainError, NotAllowed
from tests.factories import (
    CostCenterFactory,
    ListingFactory,
    Trade,
    added_line,
    line_input,
    listing_values,
    member,
    proposal_header,
    proposal_line,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def _kinds(po):
    return list(po.events.values_list("kind", flat=True))


# --- drafts ------------------------------------------------------------------------------


def test_a_draft_gets_a_number_and_lines_with_rounded_totals(trade):
    po = trade.draft(
        lines=[
            {"listing": trade.listing, "quantity": "3", "tax_rate": "20"},
            {"description": "Installation", "quantity": "1.5", "unit": "h", "unit_price": "33.33"},
        ]
    )
    assert po.number == "PO-000001" and po.status == "draft"
    assert po.currency == "USD" and po.requester == trade.buyer.user
    first, second = po.lines.all()
    assert (first.unit_price, first.line_total, first.tax_amount) == (Decimal("2.50"), Decimal("7.50"), Decimal("1.50"))
    assert second.line_total == Decimal("50.00")  # 49.995 rounds half-up
    assert (po.subtotal, po.tax_total, po.total) == (Decimal("57.50"), Decimal("1.50"), Decimal("59.00"))
    assert _kinds(po) == ["created"]


def test_jpy_and_kwd_round_to_their_minor_units():
    jpy = Trade("JPY")
    po = jpy.draft(lines=[{"description": "Cable", "quantity": "3", "unit": "m", "unit_price": "333"}])
    assert po.total == Decimal("999")
    with pytest.raises(DomainError, match="no decimals"):
        drafts.add_line(
            by=jpy.buyer,
            po=po,
            values=line_input(description="X", quantity="1", unit="ea", unit_price="1.5", cost_center=jpy.cost_center),
        )
    kwd = Trade("KWD")
    po = kwd.draft(lines=[{"description": "Oil", "quantity": "0.333", "unit": "l", "unit_price": "1.005"}])
    assert po.lines.get().line_total == Decimal("0.335")  # 0.334665 → 0.335


@pytest.mark.parametrize(
    "values,field,message",
    [
        ({"quantity": "0"}, "quantity", "more than zero"),
        ({"quantity": "-2"}, "quantity", "more than zero"),
        ({"quantity": "1.5"}, "quantity", "whole numbers"),
        ({"unit_price": "1.234"}, "unit_price", "at most 2 decimals"),
        ({"unit_price": "-1"}, "unit_price", "negative"),
        ({"description": "<script>alert(1)</script>"}, "description", "HTML tags"),
        ({"description": ""}, "description", "required"),
        ({"tax_rate": "120"}, "tax_rate", "0 to 100"),
        ({"cost_center": None}, "cost_center", "cost centers"),
    ],
)
def test_bad_custom_lines_are_refused_and_write_nothing(trade, values, field, message):
    po = trade.draft(lines=[])
    good = {
        "description": "Widget",
        "quantity": "2",
        "unit": "ea",
        "unit_price": "1.00",
        "cost_center": trade.cost_center,
    }
    with pytest.raises(DomainError, match=message) as refused:
        drafts.add_line(by=trade.buyer, po=po, values=line_input(**{**good, **values}))
    assert refused.value.field == field
    assert not po.lines.exists()
    po.refresh_from_db()
    assert po.total == 0


@pytest.mark.parametrize(
    "values,field,message",
    [
        ({"quantity": "abc"}, "quantity", "not a number"),
        ({"unit_price": "1,50"}, "unit_price", "use a point"),
        ({"tax_rate": "+5"}, "tax_rate", "without a “+”"),
        ({"listing": "٥"}, "listing", "Enter a number"),
        ({"requested_date": "2024-02-30"}, "requested_date", "valid date"),
    ],
)
def test_unreadable_line_input_is_refused_by_the_form_next_to_its_field(trade, values, field, message):
    """What cannot be read as a number (or a date, a listing) never reaches the service."""
    po = trade.draft(lines=[])
    good = {"description": "Widget", "quantity": "2", "unit": "ea", "unit_price": "1.00", "tax_rate": "0"}
    form = LineForm(
        {**good, "cost_center": trade.cost_center.pk, **values},
        listings=selectors.orderable_listings(po),
        cost_centers=selectors.cost_centers_of(trade.customer),
        gl_accounts=selectors.gl_accounts_of(trade.customer),
    )
    assert not form.is_valid()
    assert list(form.errors) == [field] and message in form.errors[field][0]


def test_the_line_form_reads_typed_values_for_the_service(trade):
    po = trade.draft(lines=[])
    form = LineForm(
        {"listing": str(trade.listing.pk), "quantity": " 4 ", "tax_rate": "", "cost_center": trade.cost_center.pk},
        listings=selectors.orderable_listings(po),
        cost_centers=selectors.cost_centers_of(trade.customer),
        gl_accounts=selectors.gl_accounts_of(trade.customer),
    )
    assert form.is_valid(), form.errors
    line = form.line_input()
    assert (line.listing, line.quantity, line.tax_rate, line.unit_price) == (trade.listing, Decimal("4"), 0, None)
    assert line.cost_center == trade.cost_center
    other = Trade()
    foreign = LineForm(
        {"listing": str(other.listing.pk), "quantity": "1", "cost_center": other.cost_center.pk},
        listings=selectors.orderable_listings(po),
        cost_centers=selectors.cost_centers_of(trade.customer),
        gl_accounts=selectors.gl_accounts_of(trade.customer),
    )
    assert not foreign.is_valid() and set(foreign.errors) == {"listing", "cost_center"}


def test_listing_lines_refuse_foreign_inactive_or_other_currency_listings(trade):
    po = trade.draft(lines=[])
    for listing, message in [
        (ListingFactory(), "active listing of this supplier"),
        (ListingFactory(supplier=trade.supplier, is_active=False), "active listing of this supplier"),
        (ListingFactory(supplier=trade.supplier, currency="EUR"), "priced in EUR"),
    ]:
        with pytest.raises(DomainError, match=message):
            drafts.add_line(
                by=trade.buyer, po=po, values=line_input(listing=listing, quantity="1", cost_center=trade.cost_center)
            )
    moq = ListingFactory(supplier=trade.supplier, min_order_qty=Decimal("10"))
    with pytest.raises(DomainError, match="sold from 10"):
        drafts.add_line(
            by=trade.buyer, po=po, values=line_input(listing=moq, quantity="5", cost_center=trade.cost_center)
        )
    with pytest.raises(DomainError, match="cost centers"):
        drafts.add_line(
            by=trade.buyer,
            po=po,
            values=line_input(listing=trade.listing, quantity="1", cost_center=CostCenterFactory()),
        )
    assert not po.lines.exists()


def test_several_lines_at_once_are_all_or_nothing(trade, django_assert_max_num_queries):
    po = trade.draft(lines=[{"listing": trade.listing, "quantity": "1"}])
    custom = {"description": "Fitting", "quantity": "2", "unit": "h", "unit_price": "40"}
    bad = {**custom, "unit_price": "-1"}
    with pytest.raises(DomainError, match="^Line 3: ") as refused:
        drafts.add_lines(
            by=trade.buyer,
            po=po,
            lines=[line_input(**line, cost_center=trade.cost_center) for line in (custom, custom, bad)],
        )
    assert refused.value.field == "unit_price"
    assert po.lines.count() == 1
    other = ListingFactory(supplier=trade.supplier)
    lines = [
        line_input(listing=listing, quantity="4", cost_center=trade.cost_center) for listing in (trade.listing, other)
    ]
    with django_assert_max_num_queries(14):  # the same for 2 lines as for 20: one lock, one read each, one insert
        added = drafts.add_lines(by=trade.buyer, po=po, lines=lines * 5)
    assert [line.position for line in added] == list(range(2, 12))
    po.refresh_from_db()
    assert po.total == sum(line.line_total + line.tax_amount for line in po.lines.all())
    with pytest.raises(DomainError, match="at least one line"):
        drafts.add_lines(by=trade.buyer, po=po, lines=[])


def test_draft_lines_follow_the_latest_price_then_freeze_on_submission(trade):
    po = trade.draft()
    bolt = {"sku": "BOLT", "name": "Bolt", "unit": "ea", "currency": "USD"}
    sales = member(trade.supplier, Role.SALES)
    listings.save_listing(by=sales, values=listing_values(sales, {**bolt, "unit_price": "3.00"}), listing=trade.listing)
    line = po.lines.get()
    assert line.unit_price == Decimal("3.00") and line.price_changed
    po.refresh_from_db()
    assert po.total == Decimal("30.00")
    submission.submit_purchase_order(po=po, by=trade.buyer)
    line.refresh_from_db()
    assert line.unit_price == Decimal("3.00") and not line.price_changed
    listings.save_listing(
        by=trade.sales, values=listing_values(trade.sales, {**bolt, "unit_price": "4.00"}), listing=trade.listing
    )
    line.refresh_from_db()
    assert line.unit_price == Decimal("3.00")  # frozen


def test_only_the_requester_or_an_admin_edits_a_draft(trade):
    po = trade.draft()
    colleague = member(trade.customer, Role.BUYER)
    with pytest.raises(NotAllowed, match="Only"):
        drafts.add_line(
            by=colleague, po=po, values=line_input(listing=trade.listing, quantity="1", cost_center=trade.cost_center)
        )
    with pytest.raises(NotAllowed):
        submission.submit_purchase_order(po=po, by=colleague)
    drafts.add_line(
        by=trade.customer_admin,
        po=po,
        values=line_input(listing=trade.listing, quantity="1", cost_center=trade.cost_center),
    )
    assert po.lines.count() == 2


def test_roles_and_tenants_are_enforced(trade):
    with pytest.raises(NotAllowed):
        drafts.create_purchase_order(by=member(trade.customer, Role.RECEIVER), connection=trade.connection)
    with pytest.raises(NotAllowed, match="does not buy"):
        drafts.create_purchase_order(by=trade.sales, connection=trade.connection)
    with pytest.raises(DomainError, match="your suppliers"):
        drafts.create_purchase_order(by=Trade().buyer, connection=trade.connection)
    po = trade.draft()
    other = Trade()
    with pytest.raises(PurchaseOrder.DoesNotExist):
        submission.submit_purchase_order(po=po, by=other.buyer)
    assert PurchaseOrder.objects.filter(status="draft").count() == 1


# --- submission and release ----------------------------------------------------------------


def test_submission_sends_the_order_to_the_supplier(trade, django_capture_on_commit_callbacks):
    po = trade.draft(valid_until=timezone.localdate() + timedelta(days=7))
    with django_capture_on_commit_callbacks(execute=True):
        submission.submit_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    so = po.sales_order
    assert (po.status, so.status, so.number, po.revision_number) == ("sent", "new", "SO-000001", 1)
    assert po.order_date == timezone.localdate()
    assert po.revisions.get().lines.count() == 1
    assert _kinds(po) == ["created", "sent"]
    message = mail.outbox[-1]
    assert trade.sales.user.email in message.to
    assert "New sales order SO-000001" in message.subject
    name, content, mime = message.attachments[0]
    assert (name, mime) == ("PO-000001.pdf", "application/pdf") and content.startswith(b"%PDF")
    assert f"/o/{trade.supplier.slug}/sales-orders/SO-000001/" in message.body


def test_submission_refusals_write_nothing(trade):
    empty = trade.draft(lines=[])
    with pytest.raises(DomainError, match="at least one line"):
        submission.submit_purchase_order(po=empty, by=trade.buyer)
    po = trade.draft()
    account_services.suspend_connection(by=member(trade.supplier), connection=trade.connection)
    with pytest.raises(DomainError, match="suspended"):
        submission.submit_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    assert po.status == "draft" and not SalesOrder.objects.exists() and not Revision.objects.exists()


# --- the supplier's proposal, acceptance and the negotiation ---------------------------------


def _propose(trade, po, **lines_by_position):
    lines = {
        line.pk: proposal_line(**lines_by_position[f"line{line.position}"])
        for line in po.lines.all()
        if f"line{line.position}" in lines_by_position
    }
    return negotiation.save_proposal(so=po.sales_order, by=trade.sales, lines=lines)


def test_the_proposal_stays_invisible_until_accepted(trade, django_capture_on_commit_callbacks):
    po = trade.sent(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Nut", "quantity": "5", "unit": "ea", "unit_price": "1.00"},
        ]
    )
    _propose(
        trade,
        po,
        line1={"action": "change", "quantity": "8", "unit_price": "2.40"},
        line2={"action": "reject", "reject_reason": "Discontinued"},
    )
    po.refresh_from_db()
    assert po.sales_order.status == "in_review" and po.status == "sent"
    assert [line.quantity for line in po.lines.all()] == [Decimal("10"), Decimal("5")]
    assert po.total == Decimal("30.00") and _kinds(po) == ["created", "sent"]
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    po.refresh_from_db()
    assert (po.status, po.sales_order.status, po.revision_number) == ("supplier_accepted", "accepted", 2)
    first, second = po.lines.all()
    assert (first.quantity, first.unit_price, second.status) == (Decimal("8"), Decimal("2.40"), "rejected")
    assert po.total == Decimal("19.20")
    event = po.events.last()
    assert event.kind == "accepted" and "quantity 10 → 8" in event.body and "rejected Nut: Discontinued" in event.body
    assert "accepted PO-000001" in mail.outbox[-1].subject
    body = mail.outbox[-1].body  # the e-mail says what changed
    assert "What changed:" in body and "quantity 10 → 8" in body and "no changes" not in body


def test_the_e_mail_of_an_order_accepted_as_sent_says_nothing_changed(trade, django_capture_on_commit_callbacks):
    po = trade.sent()
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    body = mail.outbox[-1].body
    assert "as you sent it, with no changes" in body and "What changed" not in body and "Check" not in body


def test_a_redline_compares_each_revision_with_the_one_before(trade):
    po = trade.sent()
    _propose(
        trade,
        po,
        line1={
            "action": "backorder",
            "backorder_quantity": "4",
            "backorder_date": str(timezone.localdate() + timedelta(days=30)),
        },
    )
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={
            po.lines.get().pk: proposal_line(action="backorder", backorder_quantity="4", backorder_date="2030-01-31")
        },
        added=[added_line(description="Washers", quantity="10", unit="ea", unit_price="0.10")],
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    first, second = Revision.objects.filter(purchase_order=po).order_by("number")
    rows = revisions.diff_revisions(first, second)
    assert [row["kind"] for row in rows] == ["changed", "added"]
    assert rows[0]["fields"] == ["backorder_quantity", "backorder_date"]


@pytest.mark.parametrize(
    "values,message",
    [
        ({"action": "reject"}, "Say why you reject the line"),
        ({"action": "change", "quantity": "0"}, "more than zero"),
        ({"action": "change", "unit_price": "1.001"}, "at most 2 decimals"),
        ({"action": "backorder", "backorder_quantity": "10", "backorder_date": "2030-01-01"}, "part of the quantity"),
        ({"action": "backorder", "backorder_quantity": "2"}, "When will the rest"),
        ({"action": "fly"}, "what to do"),
    ],
)
def test_bad_proposals_are_refused(trade, values, message):
    po = trade.sent()
    with pytest.raises(DomainError, match=message):
        _propose(trade, po, line1=values)
    po.sales_order.refresh_from_db()
    assert po.sales_order.status == "new" and not hasattr(po.sales_order, "proposal_cache")


def test_changes_requested_then_accepted_again_then_confirmed(trade, django_capture_on_commit_callbacks):
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    with pytest.raises(DomainError, match="required"):
        negotiation.request_changes(po=po, by=trade.buyer, note="  ")
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.request_changes(po=po, by=trade.buyer, note="Can you deliver by Friday?")
    po.refresh_from_db()
    assert (po.status, po.sales_order.status) == ("sent", "changes_requested")
    assert "Can you deliver by Friday?" in mail.outbox[-1].body
    _propose(trade, po, line1={"action": "accept", "promised_date": "2030-05-02"})
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    assert (po.status, po.sales_order.status, po.revision_number) == ("confirmed", "confirmed", 3)
    assert _kinds(po) == ["created", "sent", "accepted", "changes_requested", "accepted", "confirmed", "invoiced"]
    confirmed = [message for message in mail.outbox if "is confirmed" in message.subject]
    recipients = {address for message in confirmed for address in message.to}
    assert trade.buyer.user.email in recipients and trade.sales.user.email in recipients


def test_transitions_refuse_the_wrong_state_the_wrong_role_and_the_wrong_side(trade):
    po = trade.sent()
    with pytest.raises(DomainError, match="cannot be confirmed"):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    with pytest.raises(NotAllowed):
        negotiation.accept_sales_order(so=po.sales_order, by=member(trade.supplier, Role.FULFILMENT))
    with pytest.raises(PurchaseOrder.DoesNotExist):  # another supplier's order is not found at all
        negotiation.accept_sales_order(so=po.sales_order, by=Trade().sales)
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    with pytest.raises(DomainError):
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    with pytest.raises(NotAllowed):
        negotiation.confirm_purchase_order(po=po, by=member(trade.customer, Role.APPROVER))
    po.refresh_from_db()
    assert po.status == "supplier_accepted" and po.events.filter(kind="accepted").count() == 1


def test_a_suspended_connection_freezes_all_but_cancel(trade):
    po = trade.sent()
    account_services.suspend_connection(by=member(trade.customer), connection=trade.connection)
    with pytest.raises(DomainError, match="frozen"):
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    submission.cancel_purchase_order(po=po, by=trade.buyer, reason="Supplier on hold")
    po.refresh_from_db()
    assert (po.status, po.sales_order.status) == ("cancelled", "cancelled")


def test_decline_needs_a_reason(trade, django_capture_on_commit_callbacks):
    po = trade.sent()
    with pytest.raises(DomainError, match="required"):
        negotiation.decline_sales_order(so=po.sales_order, by=trade.sales, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.decline_sales_order(so=po.sales_order, by=trade.sales, reason="Out of stock")
    po.refresh_from_db()
    assert (po.status, po.sales_order.status, po.closing_reason) == ("declined", "declined", "Out of stock")
    assert "Out of stock" in mail.outbox[-1].body


def test_cancel_before_confirmation_only(trade):
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    with pytest.raises(DomainError, match="cannot be cancelled"):
        submission.cancel_purchase_order(po=po, by=trade.buyer, reason="Changed my mind")
    draft = trade.draft()
    with pytest.raises(DomainError, match="required"):
        submission.cancel_purchase_order(po=draft, by=trade.buyer, reason="")
    submission.cancel_purchase_order(po=draft, by=trade.buyer, reason="Duplicate")
    draft.refresh_from_db()
    assert draft.status == "cancelled"


def test_expiry_runs_on_sent_orders_past_valid_until(trade, django_capture_on_commit_callbacks):
    from orders.tasks import expire_purchase_orders

    po = trade.sent(valid_until=timezone.localdate() + timedelta(days=1))
    fresh = trade.sent(valid_until=timezone.localdate() + timedelta(days=5))
    PurchaseOrder.objects.filter(pk=po.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_purchase_orders.apply().get() == 1
    po.refresh_from_db()
    fresh.refresh_from_db()
    assert (po.status, po.sales_order.status, fresh.status) == ("expired", "expired", "sent")
    assert "expired" in mail.outbox[-1].subject


# --- thread and notes ------------------------------------------------------------------------


def test_both_sides_write_the_thread_and_keep_their_notes(trade):
    po = trade.sent()
    thread.post_message(po=po, by=trade.buyer, body="Please use the loading dock.")
    thread.post_message(po=po, by=trade.sales, body="Noted.")
    thread.add_internal_note(po=po, by=trade.buyer, body="Cheaper than last year")
    thread.add_internal_note(po=po, by=trade.sales, body="Good customer")
    assert list(po.events.filter(kind="message").values_list("body", flat=True)) == [
        "Please use the loading dock.",
        "Noted.",
    ]
    assert list(po.internal_notes.filter(organization=trade.customer).values_list("body", flat=True)) == [
        "Cheaper than last year"
    ]
    with pytest.raises(DomainError, match="HTML"):
        thread.post_message(po=po, by=trade.buyer, body="<b>hi</b>")
    with pytest.raises(NotAllowed):
        thread.post_message(po=po, by=member(Trade().customer), body="Hello")


def test_lines_are_numbers_not_floats(trade):
    po = trade.draft()
    line = PurchaseOrderLine.objects.get(purchase_order=po)
    assert isinstance(line.unit_price, Decimal) and isinstance(po.total, Decimal)
    assert OrderEvent.objects.filter(purchase_order=po).exists()


def test_a_new_quantity_on_an_accepted_line_is_a_change(trade):
    po = trade.sent()
    _propose(trade, po, line1={"action": "accept", "quantity": "12", "unit_price": "2.50"})
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    assert po.lines.get().quantity == Decimal("12")


def test_each_transition_sends_its_e_mail_once_through_anymail(trade, settings, django_capture_on_commit_callbacks):
    from accounts.models import OutboundEmail
    from accounts.tasks import deliver_email

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        po = trade.sent()
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
        negotiation.request_changes(po=po, by=trade.buyer, note="Cheaper?")
        negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
        declined = trade.sent()
        negotiation.decline_sales_order(so=declined.sales_order, by=trade.sales, reason="No stock")
        cancelled = trade.sent()
        submission.cancel_purchase_order(po=cancelled, by=trade.buyer, reason="Not needed")
    subjects = [m.subject for m in mail.outbox]
    n = trade.supplier.name
    assert subjects == [
        f"New sales order SO-000001 from {trade.customer.name}",
        f"{n} accepted PO-000001",
        f"{trade.customer.name} requests changes to SO-000001",
        f"{n} accepted PO-000001",
        "PO-000001 is confirmed",
        f"SO-000001 is confirmed by {trade.customer.name}",
        f"New sales order SO-000002 from {trade.customer.name}",
        f"{n} declined PO-000002",
        f"New sales order SO-000003 from {trade.customer.name}",
        f"{trade.customer.name} cancelled SO-000003",
        # The documents' task runs after the confirmation's commit, and e-mails in its own.
        f"Invoice INV-000001 to {trade.customer.name} (25.00 USD)",
        f"Bill BILL-000001 from {n} (25.00 USD, due {po.sales_order.invoice.due_date:%-d %b %Y})",
    ]
    assert all(m.anymail_status.status == {"sent"} for m in mail.outbox)
    assert all(m.alternatives and m.body for m in mail.outbox)  # HTML and text parts
    for email in OutboundEmail.objects.all():  # a retried task sends nothing again
        assert deliver_email.apply(args=[email.pk]).get() == "nothing to do"
    assert len(mail.outbox) == len(subjects)


def test_header_changes_are_published_and_described(trade):
    po = trade.sent()
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={},
        header=proposal_header(confirm_ship_by="2030-03-01", payment_terms_days=45, discount="2.00"),
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    po.refresh_from_db()
    assert (po.payment_terms_days, po.discount, po.total) == (45, Decimal("2.00"), Decimal("23.00"))
    body = po.events.last().body
    # Dates and money as the pages show them (issue 18 #11: the thread said "2030-03-01").
    assert "ships by — → 1 Mar 2030" in body and "payment terms (days) 30 → 45" in body
    assert "discount 0.00 USD → 2.00 USD" in body


def test_a_rejected_order_is_revised_into_a_draft(trade, client):
    po = trade.draft()
    # Rejection comes from an approver (the approvals issue); here the state is set directly.
    PurchaseOrder.objects.filter(pk=po.pk).update(status="rejected", closing_reason="Over budget")
    with pytest.raises(NotAllowed):
        submission.revise_purchase_order(po=po, by=member(trade.customer, Role.BUYER))
    client.force_login(trade.buyer.user)
    detail = reverse("orders:po-detail", args=[trade.customer.slug, po.number])
    assert "Revise" in client.get(detail).content.decode()
    client.post(reverse("orders:po-revise", args=[trade.customer.slug, po.number]))
    po.refresh_from_db()
    assert (po.status, po.closing_reason) == ("draft", "")
    assert po.events.last().kind == "revised"
    with pytest.raises(DomainError, match="cannot be reopened"):
        submission.revise_purchase_order(po=po, by=trade.buyer)
