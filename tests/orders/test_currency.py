"""The currency of an order (SPEC §6): from the connection's terms unless chosen, and
changeable while the order is a draft without lines — refused next to the field otherwise."""

import pytest
from django.urls import reverse

from orders.models import PurchaseOrder
from tests.factories import Trade

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(f"orders:{name}", kwargs={"org_slug": org.slug, **kwargs})


def test_the_currency_defaults_from_the_connection_or_is_chosen(client):
    trade = Trade(currency="EUR")
    client.force_login(trade.buyer.user)
    client.post(url("po-new", trade.customer), {"connection": trade.connection.pk})
    client.post(url("po-new", trade.customer), {"connection": trade.connection.pk, "currency": "JPY"})
    assert list(PurchaseOrder.objects.order_by("pk").values_list("currency", flat=True)) == ["EUR", "JPY"]
    response = client.post(url("po-new", trade.customer), {"connection": trade.connection.pk, "currency": "XXX"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_a_drafts_currency_changes_until_it_has_lines(client):
    trade = Trade()
    po = trade.draft(lines=[])
    client.force_login(trade.buyer.user)
    edit = url("po-edit", trade.customer, number=po.number)
    assert client.post(edit, {"currency": "KWD"}).status_code == 302
    po.refresh_from_db()
    assert po.currency == "KWD"
    trade.listing.currency = "KWD"
    trade.listing.save()
    po = trade.draft(
        lines=[{"description": "Tea", "quantity": "1", "unit": "ea", "unit_price": "1.250"}], currency="KWD"
    )
    # with lines the page's select is disabled: a currency posted anyway is ignored, the rest saved
    response = client.post(
        url("po-edit", trade.customer, number=po.number), {"currency": "USD", "note_to_supplier": "Hi"}
    )
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.currency == "KWD" and po.note_to_supplier == "Hi"
    from orders.services.drafts import update_purchase_order
    from procurement.errors import DomainError

    with pytest.raises(DomainError, match="their prices are in KWD"):  # the service still refuses it
        update_purchase_order(by=trade.buyer, po=po, currency="USD")
