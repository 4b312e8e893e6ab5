"""The tolerance policy (SPEC §6): one per organization, overridable per supplier with a reason
that is kept; receiving reads it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts import services
from accounts.models import SupplierTolerance
from accounts.roles import Role
from accounts.selectors import tolerances_for
from orders.services import fulfilment
from procurement.errors import DomainError, NotAllowed
from tests.factories import ConnectionFactory, SupplierFactory, Trade, member, receipt_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def test_defaults_without_a_policy(trade):
    tolerances = tolerances_for(customer_id=trade.customer.pk, supplier_id=trade.supplier.pk)
    assert tolerances.values() == {
        "over_receipt_percent": Decimal("0"),
        "under_receipt_percent": Decimal("0"),
        "price_variance_percent": Decimal("0"),
        "price_variance_amount": Decimal("0"),
        "billed_band": Decimal("0.10"),
    }


def test_a_supplier_override_wins_and_its_record_is_kept(trade):
    services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("5"))
    other = ConnectionFactory(customer=trade.customer, supplier=SupplierFactory()).supplier
    services.set_supplier_tolerance(
        by=trade.customer_admin, supplier=trade.supplier, reason="Sells by the drum", over_receipt_percent=Decimal("12")
    )
    second = services.set_supplier_tolerance(
        by=trade.customer_admin,
        supplier=trade.supplier,
        reason="Drums are bigger now",
        over_receipt_percent=Decimal("15"),
    )
    assert tolerances_for(customer_id=trade.customer.pk, supplier_id=trade.supplier.pk).over_receipt_percent == 15
    assert tolerances_for(customer_id=trade.customer.pk, supplier_id=other.pk).over_receipt_percent == 5
    first, latest = SupplierTolerance.objects.order_by("set_at", "pk")
    assert first.ended_at is not None and first.ended_by == trade.customer_admin.user
    assert latest == second and latest.reason == "Drums are bigger now" and latest.set_by == trade.customer_admin.user
    services.end_supplier_tolerance(by=trade.customer_admin, override=second)
    assert tolerances_for(customer_id=trade.customer.pk, supplier_id=trade.supplier.pk).over_receipt_percent == 5
    assert SupplierTolerance.objects.count() == 2  # ended, not deleted


def test_an_override_needs_a_reason_and_a_supplier_of_ours(trade):
    with pytest.raises(DomainError) as exc:
        services.set_supplier_tolerance(by=trade.customer_admin, supplier=trade.supplier, reason="  ")
    assert exc.value.field == "reason"
    stranger = SupplierFactory()
    with pytest.raises(DomainError) as exc:
        services.set_supplier_tolerance(by=trade.customer_admin, supplier=stranger, reason="Why not")
    assert exc.value.field == "supplier"
    assert not SupplierTolerance.objects.exists()


@pytest.mark.parametrize(
    "field, bad",
    [
        ("over_receipt_percent", Decimal("-1")),
        ("under_receipt_percent", Decimal("100.01")),
        ("price_variance_percent", Decimal("1.234")),
        ("price_variance_amount", Decimal("-0.01")),
        ("billed_band", Decimal("0.0001")),
    ],
)
def test_figures_are_checked(trade, field, bad):
    with pytest.raises(DomainError) as exc:
        services.update_tolerance_policy(by=trade.customer_admin, **{field: bad})
    assert exc.value.field == field
    assert not trade.customer.__class__.objects.filter(tolerance_policy__isnull=False).exists()


def test_only_admins_set_tolerances(trade):
    with pytest.raises(NotAllowed):
        services.update_tolerance_policy(by=member(trade.customer, Role.PAYABLES), over_receipt_percent=Decimal("5"))


def test_receiving_reads_the_suppliers_override(trade):
    po = trade.confirmed()
    receiver = member(trade.customer, Role.RECEIVER)
    line = po.lines.get()
    with pytest.raises(DomainError):
        fulfilment.record_receipt(
            po=po, by=receiver, lines={line.pk: receipt_line(quantity="11")}, received_on=date.today()
        )
    services.set_supplier_tolerance(
        by=trade.customer_admin, supplier=trade.supplier, reason="Packs of 11", over_receipt_percent=Decimal("10")
    )
    fulfilment.record_receipt(
        po=po, by=receiver, lines={line.pk: receipt_line(quantity="11")}, received_on=date.today()
    )
    line.refresh_from_db()
    assert line.quantity_received == 11


def test_the_tolerances_page(client, trade):
    client.force_login(trade.customer_admin.user)
    url = f"/o/{trade.customer.slug}/settings/tolerances/"
    response = client.post(
        url,
        {
            "override-supplier": trade.supplier.pk,
            "override-over_receipt_percent": "3",
            "override-under_receipt_percent": "0",
            "override-price_variance_percent": "2",
            "override-price_variance_amount": "0",
            "override-billed_band": "0.10",
            "override-reason": "",
        },
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert 'value="2"' in response.content.decode()  # what was typed stays
    response = client.post(
        url,
        {
            "policy-over_receipt_percent": "4",
            "policy-under_receipt_percent": "1",
            "policy-price_variance_percent": "2",
            "policy-price_variance_amount": "0.05",
            "policy-billed_band": "0.10",
        },
    )
    assert response.status_code == 302
    assert tolerances_for(customer_id=trade.customer.pk).over_receipt_percent == 4
    assert client.get(url).status_code == 200
    client.force_login(member(trade.customer, Role.BUYER).user)
    assert client.get(url).status_code == 403
