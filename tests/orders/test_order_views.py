"""The order pages through the test client: the journey, forms that keep input, query counts."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.roles import Role
from orders.models import Proposal, PurchaseOrder
from orders.services import negotiation, sharing
from orders.services.thread import post_message
from tests.factories import ListingFactory, Trade, added_line, member, proposal_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


def test_the_whole_negotiation_through_the_pages(client, trade, django_capture_on_commit_callbacks):
    client.force_login(trade.buyer.user)
    response = client.post(url("po-new", trade.customer), {"connection": trade.connection.pk, "note_to_supplier": "Hi"})
    po = PurchaseOrder.objects.get()
    assert response["Location"] == url("po-detail", trade.customer, number=po.number)
    client.post(
        url("po-line-add", trade.customer, number=po.number),
        {"listing": trade.listing.pk, "quantity": "10", "cost_center": trade.cost_center.pk, "tax_rate": "0"},
    )
    client.post(
        url("po-line-add", trade.customer, number=po.number),
        {
            "description": "Custom crate",
            "quantity": "2",
            "unit": "ea",
            "unit_price": "15.00",
            "cost_center": trade.cost_center.pk,
            "tax_rate": "10",
        },
    )
    assert po.lines.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("po-submit", trade.customer, number=po.number))
    po.refresh_from_db()
    so = po.sales_order
    assert po.status == "sent"

    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=so.number)).content.decode()
    assert "Custom crate" in page and "Accept order" in page
    first, second = po.lines.all()
    form = {
        f"line-{first.pk}-action": "change",
        f"line-{first.pk}-quantity": "8",
        f"line-{first.pk}-unit_price": "2.40",
        f"line-{second.pk}-action": "reject",
        f"line-{second.pk}-reject_reason": "We do not make crates",
        "add-0-description": "Pallet",
        "add-0-quantity": "1",
        "add-0-unit": "pallet",
        "add-0-unit_price": "20.00",
    }
    client.post(url("so-proposal", trade.supplier, number=so.number), form)
    client.force_login(trade.buyer.user)
    assert "Pallet" not in client.get(url("po-detail", trade.customer, number=po.number)).content.decode()

    client.force_login(trade.sales.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("so-proposal", trade.supplier, number=so.number), {**form, "accept": "1"})
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "What changed in revision 2" in page and "<del>10</del> <ins>8</ins>" in page and "Pallet" in page
    assert "We do not make crates" in page

    response = client.post(url("po-request-changes", trade.customer, number=po.number), {"note": ""})
    assert "This field is required." in response.content.decode()
    client.post(url("po-request-changes", trade.customer, number=po.number), {"note": "Two pallets please"})
    client.force_login(trade.sales.user)
    client.post(url("so-accept", trade.supplier, number=so.number))
    client.force_login(trade.buyer.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("po-confirm", trade.customer, number=po.number))
    po.refresh_from_db()
    assert (po.status, po.revision_number) == ("confirmed", 3)
    revisions = client.get(url("revisions", trade.customer, side="purchase-orders", number=po.number))
    assert revisions.content.decode().count("Revision ") >= 3
    thread = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    for kind in ("Sent</strong>", "Accepted</strong>", "Changes requested", "Confirmed", "Two pallets please"):
        assert kind in thread
    assert any("is confirmed" in m.subject for m in mail.outbox)


def test_line_form_errors_show_next_to_the_field_and_keep_input(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {
            "description": "Gasket",
            "quantity": "0",
            "unit": "ea",
            "unit_price": "1.999",
            "cost_center": trade.cost_center.pk,
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "more than zero" in page and 'value="Gasket"' in page and 'value="1.999"' in page
    assert not po.lines.exists()


def test_a_foreign_cost_center_is_a_form_error(client, trade):
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    response = client.post(
        url("po-line-add", trade.customer, number=po.number),
        {
            "description": "Gasket",
            "quantity": "1",
            "unit": "ea",
            "unit_price": "1",
            "cost_center": Trade().cost_center.pk,
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not po.lines.exists()


def test_html_in_a_note_is_refused_and_escaped_everywhere(client, trade):
    po = trade.sent()
    client.force_login(trade.buyer.user)
    refused = client.post(
        url("thread-post", trade.customer, side="purchase-orders", number=po.number),
        {"body": "<script>alert(1)</script>"},
    )
    assert refused.status_code == 400 and "HTML tags" in refused.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in refused.content.decode()  # kept, escaped
    assert not po.events.filter(kind="message").exists()
    post_message(po=po, by=trade.buyer, body="Use gate 5 & ring twice")
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Use gate 5 &amp; ring twice" in page


def test_buttons_follow_state_and_role(client, trade):
    po = trade.sent()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Cancel order" in page and "Confirm order" not in page and "Submit" not in page
    client.force_login(member(trade.customer, Role.RECEIVER).user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Cancel order" not in page
    client.force_login(member(trade.supplier, Role.FULFILMENT).user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert "Accept order" not in page and "Decline" not in page
    assert client.post(url("so-accept", trade.supplier, number=po.sales_order.number)).status_code == 403


def test_lists_filter_sort_export(client, trade):
    other = ListingFactory(supplier=trade.supplier, sku="NUT", name="Nut")
    first = trade.sent()
    second = trade.draft(lines=[{"listing": other, "quantity": "100"}])
    client.force_login(trade.buyer.user)
    page = client.get(url("po-list", trade.customer)).content.decode()
    assert first.number in page and second.number in page
    page = client.get(url("po-list", trade.customer), {"status": "draft"}).content.decode()
    assert second.number in page and first.number not in page
    page = client.get(url("po-list", trade.customer), {"q": "NUT"}).content.decode()
    assert second.number in page and first.number not in page
    response = client.get(url("po-export", trade.customer), {"status": "sent"})
    text = b"".join(response.streaming_content).decode()
    assert first.number in text and second.number not in text
    client.force_login(trade.sales.user)
    page = client.get(url("so-list", trade.supplier)).content.decode()
    assert first.sales_order.number in page


def test_pdfs_open_on_both_sides(client, trade):
    po = trade.sent()
    client.force_login(trade.buyer.user)
    response = client.get(url("pdf", trade.customer, side="purchase-orders", number=po.number))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    client.force_login(trade.sales.user)
    ack = url("pdf", trade.supplier, side="sales-orders", number=po.sales_order.number)
    assert client.get(ack).status_code == 302  # no acknowledgement before the supplier accepts
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    assert client.get(ack).content.startswith(b"%PDF")


def test_the_pdf_fetcher_reads_only_our_static_files():
    from orders.pdf import StaticFilesOnly

    fetcher = StaticFilesOnly()
    assert fetcher.fetch("tandem-static:/css/pdf.css")
    for bad in ("file:///etc/passwd", "http://example.com/x.css", "tandem-static:/../../etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(bad)


def test_home_inbox_shows_what_waits(client, trade):
    trade.draft()
    sent = trade.sent()
    negotiation.accept_sales_order(so=sent.sales_order, by=trade.sales)
    trade.sent()
    client.force_login(trade.buyer.user)
    page = client.get(reverse("home:org-home", args=[trade.customer.slug])).content.decode()
    assert "Drafts to submit" in page and "to confirm" in page
    client.force_login(trade.sales.user)
    page = client.get(reverse("home:org-home", args=[trade.supplier.slug])).content.decode()
    assert "New sales orders to review and accept" in page


@pytest.mark.parametrize("count", [5, 50])
def test_order_lists_query_count_does_not_grow(client, trade, django_assert_max_num_queries, count):
    for _ in range(count // 5):
        for _ in range(5):
            trade.sent() if _ % 2 else trade.draft()
    client.force_login(trade.buyer.user)
    client.get(url("po-list", trade.customer))
    with django_assert_max_num_queries(7):
        assert client.get(url("po-list", trade.customer)).status_code == 200
    client.force_login(trade.sales.user)
    client.get(url("so-list", trade.supplier))
    with django_assert_max_num_queries(7):
        assert client.get(url("so-list", trade.supplier)).status_code == 200


@pytest.mark.parametrize("count", [5, 50])
def test_order_pages_query_count_does_not_grow_with_lines(client, trade, django_assert_max_num_queries, count):
    po = trade.sent(lines=[{"listing": trade.listing, "quantity": str(i + 1)} for i in range(count)])
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    for _ in range(3):
        post_message(po=po, by=trade.buyer, body="Hello")
    client.force_login(trade.buyer.user)
    client.get(url("po-detail", trade.customer, number=po.number))
    with django_assert_max_num_queries(12):
        assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 200
    client.force_login(trade.sales.user)
    client.get(url("so-detail", trade.supplier, number=po.sales_order.number))
    with django_assert_max_num_queries(12):
        assert client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).status_code == 200


def test_draft_page_query_count_does_not_grow(client, trade, django_assert_max_num_queries):
    po = trade.draft(lines=[{"listing": trade.listing, "quantity": str(i + 1)} for i in range(30)])
    client.force_login(trade.buyer.user)
    client.get(url("po-detail", trade.customer, number=po.number))
    # 13: + the requester's object permission (orders.rules: who may edit the draft), read once for every button;
    # 15: + the picker's price breaks and this customer's prices (the price it pays, not the list price)
    with django_assert_max_num_queries(15):
        assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 200
    assert po.total > Decimal(0)


def test_a_draft_line_is_changed_in_place(client, trade):
    po = trade.draft()
    line = po.lines.get()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number), {"edit": line.pk}).content.decode()
    assert "Change line 1" in page and 'value="10"' in page
    response = client.post(
        url("po-line-edit", trade.customer, number=po.number, pk=line.pk),
        {"listing": trade.listing.pk, "quantity": "4", "cost_center": trade.cost_center.pk, "tax_rate": "5"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 302  # htmx follows it and swaps the order part of the page
    line.refresh_from_db()
    po.refresh_from_db()
    assert (line.quantity, line.tax_amount, po.total) == (Decimal("4"), Decimal("0.50"), Decimal("10.50"))
    bad = client.post(
        url("po-line-edit", trade.customer, number=po.number, pk=line.pk),
        {"listing": trade.listing.pk, "quantity": "-1", "cost_center": trade.cost_center.pk},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 200 and "more than zero" in bad.content.decode()


def test_an_admin_shares_one_order_with_a_colleague(client, trade, django_capture_on_commit_callbacks):
    po = trade.sent()
    hidden = trade.draft()
    sales_colleague = member(trade.customer, Role.PAYABLES)
    trade.customer.sells = True
    trade.customer.save()
    from accounts.models import Membership

    Membership.objects.filter(pk=sales_colleague.pk).update(roles=["sales"])
    client.force_login(sales_colleague.user)
    assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 403
    assert po.number not in client.get(url("po-list", trade.customer)).content.decode()

    client.force_login(trade.customer_admin.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "Share with" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("po-share", trade.customer, number=po.number), {"member": sales_colleague.pk})
    # Another tenant's member cannot be chosen: 404, nothing granted.
    outsider = member(Trade().customer, Role.SALES)
    assert client.post(url("po-share", trade.customer, number=po.number), {"member": outsider.pk}).status_code == 404

    assert any(sales_colleague.user.email in m.to and po.number in m.subject for m in mail.outbox)
    client.force_login(sales_colleague.user)
    home = client.get(reverse("home:org-home", args=[trade.customer.slug])).content.decode()
    assert url("po-list", trade.customer) in home  # the menu leads to the shared order
    assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 200
    listing = client.get(url("po-list", trade.customer)).content.decode()
    assert po.number in listing and hidden.number not in listing
    assert client.get(url("pdf", trade.customer, side="purchase-orders", number=po.number)).status_code == 200
    assert client.get(url("po-detail", trade.customer, number=hidden.number)).status_code == 403
    assert client.post(url("po-cancel", trade.customer, number=po.number), {"reason": "x"}).status_code == 403

    client.force_login(trade.customer_admin.user)
    client.post(url("po-unshare", trade.customer, number=po.number), {"member": sales_colleague.pk})
    client.force_login(sales_colleague.user)
    assert client.get(url("po-detail", trade.customer, number=po.number)).status_code == 403


def test_sharing_is_for_admins_only(trade):
    po = trade.sent()
    colleague = member(trade.customer, Role.RECEIVER)
    from procurement.errors import NotAllowed

    with pytest.raises(NotAllowed):
        sharing.share_purchase_order(po=po, by=trade.buyer, member=colleague)
    with pytest.raises(Exception, match="sees every purchase order"):
        sharing.share_purchase_order(po=po, by=trade.customer_admin, member=colleague)


def test_admins_keep_their_accounting_codes(client, trade):
    client.force_login(trade.customer_admin.user)
    page = url("accounting", trade.customer)
    client.post(page, {"kind": "cost-centers", "cost-centers-code": "FAC", "cost-centers-name": "Facilities"})
    duplicate = client.post(page, {"kind": "cost-centers", "cost-centers-code": "fac", "cost-centers-name": "Again"})
    assert duplicate.status_code == 400 and "already" in duplicate.content.decode()
    bad = client.post(page, {"kind": "gl-accounts", "gl-accounts-code": "<b>1</b>", "gl-accounts-name": "X"})
    assert "HTML tags" in bad.content.decode()
    from orders.models import CostCenter

    facilities = CostCenter.objects.get(organization=trade.customer, code="FAC")
    client.post(url("accounting-toggle", trade.customer, kind="cost-centers", pk=facilities.pk))
    facilities.refresh_from_db()
    assert not facilities.is_active
    client.force_login(trade.buyer.user)
    assert client.get(page).status_code == 403


def test_a_draft_without_cost_centers_says_where_to_add_them(client, trade):
    from orders.models import CostCenter

    po = trade.draft(lines=[])
    CostCenter.objects.filter(organization=trade.customer).delete()
    client.force_login(trade.customer_admin.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "has none yet" in page and url("accounting", trade.customer) in page


def test_the_supplier_form_keeps_added_lines_and_marks_a_refused_input(client, trade):
    po = trade.sent()
    line = po.lines.get()
    client.force_login(trade.sales.user)
    so_url = url("so-detail", trade.supplier, number=po.sales_order.number)
    proposal = url("so-proposal", trade.supplier, number=po.sales_order.number)
    added = {
        "add-count": "2",
        "add-0-description": "Washers",
        "add-0-quantity": "5",
        "add-0-unit": "ea",
        "add-0-unit_price": "0.20",
    }
    client.post(proposal, {f"line-{line.pk}-action": "accept", **added})
    page = client.get(so_url).content.decode()
    assert 'value="Washers"' in page  # a saved added line is filled back in, not lost
    bad = client.post(proposal, {f"line-{line.pk}-action": "reject", f"line-{line.pk}-reject_reason": "", **added})
    text = bad.content.decode()
    assert bad.status_code == 400 and "Line 1: Say why you reject the line" in text
    assert f'id="line-{line.pk}-reject_reason-error"' in text and 'value="Washers"' in text
    client.post(proposal, {f"line-{line.pk}-action": "accept", **added, "accept": "1"})
    po.refresh_from_db()
    assert [line.description for line in po.lines.all()] == ["Bolt", "Washers"]


def test_a_row_of_the_supplier_form_that_cannot_be_read_is_marked_and_the_rest_kept(client, trade):
    """The line and added-line rows are parsed by forms: an unreadable number is refused on its
    own row, in the words of the number rules, and every other input comes back as typed."""
    po = trade.sent(lines=[{"listing": trade.listing, "quantity": "10"}, {"listing": trade.listing, "quantity": "4"}])
    first, second = po.lines.all()
    client.force_login(trade.sales.user)
    proposal = url("so-proposal", trade.supplier, number=po.sales_order.number)
    typed = {
        f"line-{first.pk}-action": "change",
        f"line-{first.pk}-quantity": "8",
        f"line-{second.pk}-action": "change",
        f"line-{second.pk}-unit_price": "+2",
        "add-count": "2",
        "add-0-description": "Washers",
        "add-0-quantity": "5",
        "add-0-unit": "ea",
        "add-0-unit_price": "0.20",
    }
    response = client.post(proposal, typed)
    text = response.content.decode()
    assert response.status_code == 400 and "Line 2: “+2”: type the number without a “+”." in text
    assert f'id="line-{second.pk}-unit_price-error"' in text and f'id="line-{first.pk}-quantity-error"' not in text
    assert f'name="line-{first.pk}-quantity" value="8"' in text and 'value="Washers"' in text
    response = client.post(proposal, {**typed, f"line-{second.pk}-unit_price": "", "add-0-quantity": "1e3"})
    text = response.content.decode()
    assert response.status_code == 400 and "Added line 1: “1e3” is not a number." in text
    assert 'id="add-0-quantity-error"' in text and f'name="line-{first.pk}-quantity" value="8"' in text
    assert not Proposal.objects.exists()
    response = client.post(proposal, {**typed, f"line-{second.pk}-unit_price": "", "add-0-unit": "crate"})
    assert response.status_code == 400 and "Added line 1: Choose a unit of measure." in response.content.decode()
    assert client.post(proposal, {**typed, f"line-{second.pk}-unit_price": ""}).status_code == 302
    saved = Proposal.objects.get()
    assert {(p.action, p.quantity) for p in saved.lines.all()} == {
        ("change", Decimal("8")),
        ("change", Decimal("4")),  # a change with nothing typed keeps the line's own quantity
        ("add", Decimal("5")),
    }


def test_a_rejected_line_can_be_supplied_again(client, trade):
    po = trade.sent()
    line = po.lines.get()
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={line.pk: proposal_line(action="reject", reject_reason="No stock")},
        added=[added_line(description="Nut", quantity="1", unit="ea", unit_price="1")],
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.request_changes(po=po, by=trade.buyer, note="Please supply the bolts")
    client.force_login(trade.sales.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert '<option value="reject" selected>' in page  # untouched, it stays rejected
    negotiation.save_proposal(so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(action="accept")})
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    line.refresh_from_db()
    po.refresh_from_db()
    assert (line.status, line.reject_reason, po.total) == ("open", "", Decimal("26.00"))


def test_an_acceptance_without_changes_says_so(client, trade):
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert "accepted this order as sent" in page and "What changed" not in page
