"""Issue 18, the order side: each defect as a test that failed before its fix."""

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
