"""One place for each rule: the price of a line, who may edit a draft and who may mark an
order billed are each decided once, and the page and the service agree."""

from decimal import Decimal

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm, remove_perm

from accounts.roles import Role
from orders.models import CustomerPrice
from orders.services import drafts, submission
from procurement.errors import NotAllowed
from tests.factories import Trade, line_input, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


# ------------------------------------------------------------------------ the price of a line


def test_the_preview_shows_the_customers_own_price_the_line_is_stored_at(client, trade):
    CustomerPrice.objects.create(listing=trade.listing, customer=trade.customer, unit_price=Decimal("2.00"))
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    preview = client.get(
        url("po-line-preview", trade.customer, number=po.number), {"listing": str(trade.listing.pk), "quantity": "10"}
    )
    line = drafts.add_line(
        by=trade.buyer, po=po, values=line_input(listing=trade.listing, quantity="10", cost_center=trade.cost_center)
    )
    assert line.line_total == Decimal("20.00")
    assert preview.content.decode().startswith("20.00 USD")  # not the list price's 25.00


# ------------------------------------------------------------------ who may edit this draft


def _editable(client, po, membership) -> bool:
    client.force_login(membership.user)
    page = client.get(url("po-detail", po.customer, number=po.number)).content.decode()
    return url("po-line-add", po.customer, number=po.number) in page


def _may_add_a_line(trade, po, membership) -> bool:
    try:
        drafts.add_line(
            by=membership, po=po, values=line_input(listing=trade.listing, quantity="1", cost_center=trade.cost_center)
        )
    except NotAllowed:
        return False
    return True


def test_a_colleague_given_the_drafts_object_permission_edits_it_on_the_page_too(client, trade):
    po = trade.draft()
    colleague = member(trade.customer, Role.BUYER)
    assert not _editable(client, po, colleague) and not _may_add_a_line(trade, po, colleague)
    assign_perm("orders.change_purchaseorder", colleague.user, po)
    assert _editable(client, po, colleague) and _may_add_a_line(trade, po, colleague)


def test_a_requester_whose_permission_was_taken_back_no_longer_edits_on_the_page_either(client, trade):
    po = trade.draft()
    remove_perm("orders.change_purchaseorder", trade.buyer.user, po)
    assert not _editable(client, po, trade.buyer) and not _may_add_a_line(trade, po, trade.buyer)
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert url("po-submit", trade.customer, number=po.number) not in page
    assert url("po-cancel", trade.customer, number=po.number) not in page


def test_a_requester_who_lost_the_buyer_role_is_offered_nothing_the_service_refuses(client, trade):
    po = trade.draft()
    trade.buyer.roles = [Role.RECEIVER.value]
    trade.buyer.save()
    client.force_login(trade.buyer.user)
    page = client.get(url("po-detail", trade.customer, number=po.number)).content.decode()
    assert url("po-line-add", trade.customer, number=po.number) not in page
    assert url("po-submit", trade.customer, number=po.number) not in page
    assert not _may_add_a_line(trade, po, trade.buyer)
    # the cancel form (a GET) says why instead of offering a form the service refuses
    response = client.get(url("po-cancel", trade.customer, number=po.number))
    assert response.status_code in (302, 403)
    with pytest.raises(NotAllowed):
        submission.cancel_purchase_order(po=po, by=trade.buyer, reason="No")
