"""Returns through the pages (SPEC §6, issue 19): each step as the role that takes it (and what
it wrote), the wrong role (403 or the refusal, nothing written), another organization (404),
a refused form keeping what was typed with the error beside its input, the attachments on both
sides, the Returns tab and its query count, the order pages' notice and Home's rows."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from orders import interfaces
from orders.models import ReturnAttachment, ReturnRequest
from orders.selectors import returns_inbox
from orders.services import returns
from orders.services.returns import ArrivalInput
from tests.factories import Trade, member

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32
TODAY = timezone.localdate


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


def said(client, response) -> str:
    """The page a redirect leads to (with the message it carries)."""
    assert response.status_code == 302, response.status_code
    return client.get(response["Location"]).content.decode()


def _input(page, name):
    match = re.search(rf'<(?:input|select)[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert match, f"no input {name}"
    return match.group(0)


def photo(name="cracked.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def trade():
    trade = Trade()
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    return trade


@pytest.fixture
def po(trade):
    """Received in full: 10 BOLT (2 of them noted damaged at receipt) and 4 kg grease."""
    return trade.received(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ],
        damaged={1: "2"},
    )


@pytest.fixture
def credits(monkeypatch):
    """The returns billing is asked to credit (its credit and debit notes are billing's, tested there)."""
    asked = []
    monkeypatch.setattr(
        interfaces.billing(),
        "credit_return_after_commit",
        lambda *, po, return_request: asked.append(return_request.pk),
        raising=False,
    )
    return asked


def _lines(po):
    return list(po.lines.order_by("position"))


def _ask(trade, po, bolts="2", *, resolution="credit", **kwargs):
    bolt, _ = _lines(po)
    return returns.request_return(
        po=po,
        by=trade.receiver,
        lines={bolt.pk: Decimal(bolts)},
        reason="damaged",
        resolution=resolution,
        **kwargs,
    )


def _accepted(trade, po, **kwargs):
    return returns.accept_return(return_request=_ask(trade, po, **kwargs), by=trade.sales, instructions="Dock 4")


def _shipped(trade, po, **kwargs):
    return returns.ship_return(
        return_request=_accepted(trade, po, **kwargs), by=trade.receiver, shipped_on=TODAY(), carrier="DHL"
    )


def _tab(client, trade, po, side="purchase-orders"):
    org, number = (trade.customer, po.number) if side == "purchase-orders" else (trade.supplier, po.sales_order.number)
    return client.get(url("returns", org, side=side, number=number)).content.decode()


# ----------------------------------------------------------------------------------- request


def test_the_receiver_requests_a_return_with_photos(client, trade, po):
    bolt, grease = _lines(po)
    client.force_login(trade.receiver.user)
    detail = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert url("return-new", trade.customer, number=po.number) in detail and "Request a return" in detail
    page = client.get(url("return-new", trade.customer, number=po.number)).content.decode()
    assert _input(page, f"line-{bolt.pk}-quantity") and _input(page, f"line-{grease.pk}-quantity")
    assert "up to 10" in page and "up to 4" in page and "2 noted damaged" in page
    assert 'type="file"' in _input(page, "attachments") and "multiple" in _input(page, "attachments")
    response = client.post(
        url("return-new", trade.customer, number=po.number),
        {
            f"line-{bolt.pk}-quantity": "2",
            f"line-{grease.pk}-quantity": "",
            "reason": "damaged",
            "reason_text": "Cracked heads",
            "resolution": "credit",
            "attachments": [photo("box.png"), photo("heads.png")],
        },
    )
    assert response["Location"].endswith(
        url("returns", trade.customer, side="purchase-orders", number=po.number) + "#return-1"
    )
    tab = said(client, response)
    assert "Return 1 is requested for credit; it waits for" in tab
    ret = ReturnRequest.objects.get()
    assert (ret.reason, ret.reason_text, ret.resolution) == ("damaged", "Cracked heads", "credit")
    assert [(row.po_line_id, row.quantity) for row in ret.lines.all()] == [(bolt.pk, Decimal("2"))]
    assert sorted(a.name for a in ret.attachments.all()) == ["box.png", "heads.png"]
    assert "Withdraw return 1" in tab and "box.png" in tab and "heads.png" in tab
    bolt.refresh_from_db()
    assert bolt.quantity_returned == Decimal("2")


def test_a_refused_request_keeps_what_was_typed_and_marks_the_line(client, trade, po):
    bolt, grease = _lines(po)
    client.force_login(trade.receiver.user)
    new = url("return-new", trade.customer, number=po.number)
    typed = {
        f"line-{bolt.pk}-quantity": "11",
        f"line-{grease.pk}-quantity": "1.5",
        "reason": "other",
        "reason_text": "Wrong thread pitch",
        "resolution": "replacement",
    }
    response = client.post(new, {**typed, "attachments": [photo("pitch.png")]})
    assert response.status_code == 400
    page = response.content.decode()
    field = _input(page, f"line-{bolt.pk}-quantity")
    assert 'value="11"' in field and "is-invalid" in field
    assert f'id="line-{bolt.pk}-quantity-error"' in page and "more than the 10 ea that can still go back" in page
    assert 'value="1.5"' in _input(page, f"line-{grease.pk}-quantity")
    assert "is-invalid" not in _input(page, f"line-{grease.pk}-quantity")
    assert "Wrong thread pitch" in page and 'value="other" selected' in page
    assert re.search(r'value="replacement"[^>]*checked', page)
    assert "The files you chose (pitch.png) were not kept: choose them again." in page

    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "abc"})
    page = response.content.decode()
    assert response.status_code == 400
    assert re.search(rf'id="line-{bolt.pk}-quantity-error"[^>]*>“abc” is not a number.', page)
    assert 'value="abc"' in _input(page, f"line-{bolt.pk}-quantity")

    # Every problem at once: both lines beyond what arrived, and the reason's missing words.
    response = client.post(
        new, {**typed, f"line-{bolt.pk}-quantity": "11", f"line-{grease.pk}-quantity": "9", "reason_text": ""}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "is-invalid" in _input(page, f"line-{bolt.pk}-quantity")
    assert "is-invalid" in _input(page, f"line-{grease.pk}-quantity")
    assert re.search(r'id="id_reason_text-error"[^>]*>Say why the goods go back.', page)

    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "", f"line-{grease.pk}-quantity": ""})
    page = response.content.decode()
    assert re.search(rf'id="line-{bolt.pk}-quantity-error"[^>]*>Enter the quantity to return on at least one', page)

    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "1", "reason_text": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="id_reason_text-error"[^>]*>Say why the goods go back.', page)
    assert 'value="1"' in _input(page, f"line-{bolt.pk}-quantity")

    six = [photo(f"{n}.png") for n in range(6)]
    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "1", "attachments": six})
    assert response.status_code == 400
    assert re.search(r'id="id_attachments-error"[^>]*>Attach at most 5 files', response.content.decode())

    text = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "1", "attachments": [text]})
    assert response.status_code == 400
    assert re.search(r'id="id_attachments-error"[^>]*>Attach a PDF, PNG or JPEG file.', response.content.decode())

    response = client.post(new, {**typed, f"line-{bolt.pk}-quantity": "", f"line-{grease.pk}-quantity": ""})
    assert "Enter the quantity to return on at least one line." in response.content.decode()
    assert not ReturnRequest.objects.exists() and not ReturnAttachment.objects.exists()
    bolt.refresh_from_db()
    assert bolt.quantity_returned == 0


def test_a_role_that_does_not_return_goods_sees_no_button_and_is_refused(client, trade, po):
    bolt, _ = _lines(po)
    payables = member(trade.customer, Role.PAYABLES)
    client.force_login(payables.user)
    assert "Request a return" not in client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    new = url("return-new", trade.customer, number=po.number)
    assert client.get(new).status_code == 403
    posted = {f"line-{bolt.pk}-quantity": "1", "reason": "damaged", "resolution": "credit"}
    assert client.post(new, posted).status_code == 403
    assert not ReturnRequest.objects.exists()


def test_an_order_with_nothing_received_sends_back_to_the_tab_saying_why(client, trade):
    po = trade.confirmed()
    client.force_login(trade.buyer.user)
    response = client.get(url("return-new", trade.customer, number=po.number))
    assert f"Nothing received on {po.number} is left to return." in said(client, response)
    response = client.post(url("return-new", trade.customer, number=po.number), {"reason": "damaged"})
    assert f"Nothing received on {po.number} is left to return." in said(client, response)
    assert not ReturnRequest.objects.exists()


# ----------------------------------------------------------------------------- the steps


def test_the_customer_withdraws_a_return_not_yet_answered(client, trade, po):
    ret = _ask(trade, po)
    withdraw = url("return-withdraw", trade.customer, number=po.number, return_number=ret.number)
    client.force_login(member(trade.customer, Role.PAYABLES).user)
    assert client.post(withdraw).status_code == 403
    client.force_login(trade.receiver.user)
    assert client.get(withdraw).status_code == 302  # the button is on the tab
    page = said(client, client.post(withdraw))
    assert "Return 1 is withdrawn; the goods stay with you." in page
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.WITHDRAWN
    assert "Withdraw return 1" not in page
    page = said(client, client.post(withdraw))
    assert "Return 1 is withdrawn: it cannot be withdrawn now." in page


def test_the_supplier_authorizes_with_an_rma_number_and_the_customer_sees_it(client, trade, po):
    ret = _ask(trade, po)
    so = po.sales_order
    accept = url("return-accept", trade.supplier, number=so.number, return_number=ret.number)
    client.force_login(trade.shipper.user)  # fulfilment records arrivals, it does not answer returns
    assert "Authorize return 1" not in _tab(client, trade, po, "sales-orders")
    assert client.get(accept).status_code == 403
    assert client.post(accept, {"instructions": "Dock 4"}).status_code == 403
    client.force_login(trade.sales.user)
    tab = _tab(client, trade, po, "sales-orders")
    assert accept in tab and "Decline return 1" in tab and "Withdraw return 1" not in tab
    page = client.get(accept).content.decode()
    assert "own sequence (RMA-…)" in page and "Instructions for sending the goods back" in page
    response = client.post(accept, {"instructions": "<b>Dock 4</b>"})
    assert response.status_code == 400 and "&lt;b&gt;Dock 4&lt;/b&gt;" in response.content.decode()
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.REQUESTED
    page = said(client, client.post(accept, {"instructions": "Dock 4, mornings"}))
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.ACCEPTED and ret.rma_number.startswith("RMA-")
    assert f"Return 1 authorized as {ret.rma_number}; {trade.customer.name} has been told" in page
    assert said(client, client.post(accept, {"instructions": ""})).count("cannot be authorized now") == 1
    client.force_login(trade.receiver.user)
    tab = _tab(client, trade, po)
    assert ret.rma_number in tab and "Dock 4, mornings" in tab and "Record shipment back" in tab


def test_the_supplier_declines_with_a_reason(client, trade, po):
    ret = _ask(trade, po)
    decline = url("return-decline", trade.supplier, number=po.sales_order.number, return_number=ret.number)
    client.force_login(trade.sales.user)
    response = client.post(decline, {"reason": ""})
    assert response.status_code == 400
    assert re.search(r'id="id_reason-error"[^>]*>This field is required.', response.content.decode())
    page = said(client, client.post(decline, {"reason": "Sold as seen"}))
    assert f"Return 1 is declined; {trade.customer.name} has been told why." in page
    ret.refresh_from_db()
    assert (ret.status, ret.decline_reason) == (ReturnRequest.Status.DECLINED, "Sold as seen")
    client.force_login(trade.receiver.user)
    assert "Sold as seen" in _tab(client, trade, po)


def test_the_customer_ships_it_back(client, trade, po):
    ret = _accepted(trade, po)
    ship = url("return-ship", trade.customer, number=po.number, return_number=ret.number)
    client.force_login(trade.receiver.user)
    page = client.get(ship).content.decode()
    assert f'value="{TODAY().isoformat()}"' in _input(page, "shipped_on") and ret.rma_number in page
    tomorrow = (TODAY() + timedelta(days=1)).isoformat()
    response = client.post(ship, {"shipped_on": tomorrow, "carrier": "DHL", "tracking_number": "JD01"})
    page = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="id_shipped_on-error"[^>]*>This date is in the future.', page)
    assert 'value="DHL"' in _input(page, "carrier") and 'value="JD01"' in _input(page, "tracking_number")
    page = said(client, client.post(ship, {"shipped_on": TODAY().isoformat(), "carrier": "DHL"}))
    assert f"{ret.label} is recorded as shipped back; {trade.supplier.name} has been told." in page
    ret.refresh_from_db()
    assert (ret.status, ret.carrier) == (ReturnRequest.Status.SHIPPED, "DHL")


def test_the_supplier_records_the_arrival_and_a_credit_follows(client, trade, po, credits):
    ret = _shipped(trade, po, bolts="2")
    bolt, _ = _lines(po)
    receive = url("return-receive", trade.supplier, number=po.sales_order.number, return_number=ret.number)
    client.force_login(trade.sales.user)
    assert "Record arrival" in _tab(client, trade, po, "sales-orders")
    client.force_login(trade.shipper.user)
    page = client.get(receive).content.decode()
    assert 'value="2"' in _input(page, f"line-{bolt.pk}-quantity")
    typed = {f"line-{bolt.pk}-quantity": "3", f"line-{bolt.pk}-condition": "as_described", "note": "Two cracked"}
    response = client.post(receive, {**typed, "received_on": TODAY().isoformat()})
    page = response.content.decode()
    assert response.status_code == 400 and "more than the 2 ea this return sends back" in page
    assert 'value="3"' in _input(page, f"line-{bolt.pk}-quantity") and "is-invalid" in _input(
        page, f"line-{bolt.pk}-quantity"
    )
    assert re.search(r'<option value="as_described" selected>', page) and "Two cracked" in page
    response = client.post(
        receive, {**typed, f"line-{bolt.pk}-quantity": "2", f"line-{bolt.pk}-condition": "", "received_on": ""}
    )
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    response = client.post(
        receive,
        {**typed, f"line-{bolt.pk}-quantity": "2", f"line-{bolt.pk}-condition": "", "received_on": TODAY()},
    )
    page = response.content.decode()
    assert response.status_code == 400 and "Line 1: in what condition did it arrive?" in page
    assert "is-invalid" in _input(page, f"line-{bolt.pk}-condition")
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.SHIPPED and not credits

    page = said(client, client.post(receive, {**typed, f"line-{bolt.pk}-quantity": "2", "received_on": TODAY()}))
    assert f"{ret.label} is received back; a credit note follows." in page
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.RECEIVED and credits == [ret.pk]
    assert [(row.quantity_received_back, row.condition) for row in ret.lines.all()] == [(Decimal("2"), "as_described")]
    client.force_login(trade.receiver.user)
    tab = _tab(client, trade, po)
    assert "Received back by" in tab and "Two cracked" in tab and 'id="return-progress"' in tab


def test_an_arrival_for_a_replacement_puts_it_back_to_ship(client, trade, po, credits):
    ret = _shipped(trade, po, bolts="1", resolution="replacement")
    bolt, _ = _lines(po)
    client.force_login(trade.shipper.user)
    response = client.post(
        url("return-receive", trade.supplier, number=po.sales_order.number, return_number=ret.number),
        {f"line-{bolt.pk}-quantity": "1", f"line-{bolt.pk}-condition": "not_as_described", "received_on": TODAY()},
    )
    assert f"the replacement is on {po.sales_order.number} to ship." in said(client, response)
    assert not credits


def test_a_step_the_rules_refuse_goes_back_to_the_tab_saying_why(client, trade, po):
    ret = _ask(trade, po)
    client.force_login(trade.receiver.user)
    ship = url("return-ship", trade.customer, number=po.number, return_number=ret.number)
    assert "it cannot be shipped back now" in said(client, client.get(ship))
    assert "it cannot be shipped back now" in said(client, client.post(ship, {"shipped_on": TODAY()}))
    client.force_login(trade.shipper.user)
    receive = url("return-receive", trade.supplier, number=po.sales_order.number, return_number=ret.number)
    assert "it cannot be received back now" in said(client, client.get(receive))
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.REQUESTED


# ------------------------------------------------------------------------------ attachments


def test_both_sides_download_the_attachments_and_nobody_else(client, trade, po):
    ret = _ask(trade, po, attachments=[photo("box.png")])
    (attachment,) = ret.attachments.all()
    for who, org, side, number in [
        (trade.receiver, trade.customer, "purchase-orders", po.number),
        (trade.sales, trade.supplier, "sales-orders", po.sales_order.number),
    ]:
        client.force_login(who.user)
        link = url("return-attachment", org, side=side, number=number, return_number=1, pk=attachment.pk)
        assert link in _tab(client, trade, po, side)
        response = client.get(link)
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="box.png"'
        assert b"".join(response.streaming_content) == PNG
        other = url("return-attachment", org, side=side, number=number, return_number=2, pk=attachment.pk)
        assert client.get(other).status_code == 404  # no return 2
    # Another return's file under this return: 404.
    second = _ask(trade, po, bolts="1", attachments=[photo("other.png")])
    (theirs,) = second.attachments.all()
    client.force_login(trade.receiver.user)
    link = url(
        "return-attachment", trade.customer, side="purchase-orders", number=po.number, return_number=1, pk=theirs.pk
    )
    assert client.get(link).status_code == 404


def test_another_organization_gets_404_on_every_return_page(client, trade, po):
    ret = _ask(trade, po, attachments=[photo()])
    (attachment,) = ret.attachments.all()
    stranger = Trade()
    intruder = member(stranger.customer, Role.ADMIN)
    seller = member(stranger.supplier, Role.ADMIN)
    so_number = po.sales_order.number
    for who, org, name, kwargs in [
        (intruder, stranger.customer, "return-new", {"number": po.number}),
        (intruder, stranger.customer, "return-withdraw", {"number": po.number, "return_number": 1}),
        (intruder, stranger.customer, "return-ship", {"number": po.number, "return_number": 1}),
        (intruder, stranger.customer, "returns", {"side": "purchase-orders", "number": po.number}),
        (seller, stranger.supplier, "return-accept", {"number": so_number, "return_number": 1}),
        (seller, stranger.supplier, "return-decline", {"number": so_number, "return_number": 1}),
        (seller, stranger.supplier, "return-receive", {"number": so_number, "return_number": 1}),
        (seller, stranger.supplier, "returns", {"side": "sales-orders", "number": so_number}),
        *[
            (who, org, "return-attachment", {"side": side, "number": n, "return_number": 1, "pk": attachment.pk})
            for who, org, side, n in [
                (intruder, stranger.customer, "purchase-orders", po.number),
                (seller, stranger.supplier, "sales-orders", so_number),
            ]
        ],
    ]:
        client.force_login(who.user)
        link = url(name, org, **kwargs)
        assert client.get(link).status_code == 404, link
        assert client.post(link, {"reason": "x", "instructions": "x"}).status_code in (404, 405), link
        # And through the other organization's own address: not a member there.
        theirs = url(name, trade.customer if org == stranger.customer else trade.supplier, **kwargs)
        assert client.get(theirs).status_code == 404, theirs
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.REQUESTED and ReturnRequest.objects.count() == 1


# ------------------------------------------------------------------------- tab and order pages


def _queries(client, link) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(link).status_code == 200
    return len(captured.captured_queries)


def test_the_returns_tab_query_count_does_not_grow_with_its_returns(client, trade, po, credits):
    _ask(trade, po, bolts="1", attachments=[photo()])
    pages = [
        (trade.receiver, url("returns", trade.customer, side="purchase-orders", number=po.number)),
        (trade.sales, url("returns", trade.supplier, side="sales-orders", number=po.sales_order.number)),
    ]
    one = []
    for who, link in pages:
        client.force_login(who.user)
        one.append(_queries(client, link))
    _accepted(trade, po, bolts="1", attachments=[photo("a.png"), photo("b.png")])
    ret = _shipped(trade, po, bolts="1")
    bolt, _ = _lines(po)
    returns.receive_return(
        return_request=ret,
        by=trade.shipper,
        lines={bolt.pk: ArrivalInput(Decimal("1"), "as_described")},
        received_on=TODAY(),
    )
    assert ReturnRequest.objects.count() == 3
    for (who, link), before in zip(pages, one, strict=True):
        client.force_login(who.user)
        assert _queries(client, link) <= before, link
        assert before <= 14


def test_both_order_pages_say_which_returns_are_open_and_show_the_progress(client, trade, po):
    bolt, _ = _lines(po)
    client.force_login(trade.receiver.user)
    plain = _queries(client, url("po-detail", trade.customer, number=po.number))
    ret = _shipped(trade, po, bolts="2")
    detail = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    tab = url("returns", trade.customer, side="purchase-orders", number=po.number)
    assert f"{ret.label} is on its way back — see" in detail and f'href="{tab}#return-1"' in detail
    assert "2 asked back" in detail
    assert _queries(client, url("po-detail", trade.customer, number=po.number)) <= plain + 1  # the open returns
    client.force_login(trade.shipper.user)
    page = client.get(url("so-detail", trade.supplier, number=po.sales_order.number)).content.decode()
    assert f"{ret.label} is on its way back: record what arrives" in page and "2 asked back" in page


def test_an_order_without_returns_reads_none(client, trade, po):
    """The order pages ask for open returns only when a line says goods were asked back."""
    client.force_login(trade.receiver.user)
    with CaptureQueriesContext(connection) as captured:
        client.get(url("po-detail", trade.customer, number=po.number))
    assert not any("orders_returnrequest" in q["sql"] for q in captured.captured_queries)


# ------------------------------------------------------------------------------------ Home


def test_home_lists_the_returns_that_wait_on_each_side(client, trade, po):
    home = reverse("home:org-home", args=[trade.supplier.slug])
    ret = _ask(trade, po)
    client.force_login(trade.sales.user)
    page = client.get(home).content.decode()
    so_tab = url("returns", trade.supplier, side="sales-orders", number=po.sales_order.number)
    assert re.search(rf'href="{re.escape(so_tab)}">Returns to answer: to authorize or decline <span[^>]*>1<', page)
    client.force_login(trade.shipper.user)  # fulfilment does not answer returns
    assert "Returns to answer" not in client.get(home).content.decode()
    # A second order with a return to answer: the row leads to the list of both.
    other = trade.received(lines=[{"listing": trade.listing, "quantity": "3"}])
    returns.request_return(
        po=other,
        by=trade.receiver,
        lines={other.lines.get().pk: Decimal("1")},
        reason="surplus",
        resolution="credit",
    )
    client.force_login(trade.sales.user)
    page = client.get(home).content.decode()
    listed = url("so-list", trade.supplier) + "?status=return_to_answer"
    assert re.search(rf'href="{re.escape(listed)}">Returns to answer: to authorize or decline <span[^>]*>2<', page)
    listing = client.get(listed).content.decode()
    assert po.sales_order.number in listing and other.sales_order.number in listing

    returns.accept_return(return_request=ret, by=trade.sales)
    client.force_login(trade.receiver.user)
    customer_home = reverse("home:org-home", args=[trade.customer.slug])
    po_tab = url("returns", trade.customer, side="purchase-orders", number=po.number)
    page = client.get(customer_home).content.decode()
    assert re.search(rf'href="{re.escape(po_tab)}">Returns to ship back: authorized by suppliers <span', page)
    returns.ship_return(return_request=ret, by=trade.receiver, shipped_on=TODAY())
    page = client.get(customer_home).content.decode()
    assert "Returns to ship back" not in page and "Returns on their way back to suppliers" in page
    client.force_login(trade.shipper.user)
    page = client.get(home).content.decode()
    assert re.search(rf'href="{re.escape(so_tab)}">Returns on their way back: record what arrives <span', page)
    listed = client.get(url("po-list", trade.customer) + "?status=return_on_its_way")
    assert listed.status_code == 404  # the supplier's member is not the customer's
    client.force_login(trade.receiver.user)
    listing = client.get(url("po-list", trade.customer) + "?status=return_on_its_way").content.decode()
    assert po.number in listing and other.number not in listing


def test_homes_returns_are_one_query(trade, po, django_assert_num_queries):
    _ask(trade, po)
    with django_assert_num_queries(1):
        counts = returns_inbox(trade.supplier, customer=False, supplier=True)
    assert counts == {
        "returns_to_answer": 1,
        "returns_to_answer_at": po.sales_order.number,
        "returns_coming_back": 0,
        "returns_coming_back_at": None,
    }
    with django_assert_num_queries(0):
        assert returns_inbox(trade.supplier, customer=False, supplier=False) == {}
    assert returns_inbox(trade.customer, customer=True, supplier=False)["returns_to_ship"] == 0
