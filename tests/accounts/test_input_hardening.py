"""The one rule for text typed by a person (plain, no markup, no control characters) and for
numbers (ASCII digits within the column) on the accounts pages and in the accounts admin."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import services
from accounts.forms import ConnectionTermsForm
from accounts.models import Location, Organization, SupplierTolerance
from procurement.errors import DomainError
from tests.factories import Trade, UserFactory

pytestmark = pytest.mark.django_db

OVERRIDE = {
    "override-over_receipt_percent": "3",
    "override-under_receipt_percent": "0",
    "override-price_variance_percent": "2",
    "override-price_variance_amount": "0",
    "override-billed_band": "0.10",
}


@pytest.fixture
def trade():
    return Trade()


def tolerances_url(org):
    return reverse("accounts:tolerances", args=[org.slug])


@pytest.mark.parametrize("reason", ["<b>Good deal</b>", "<img src=x onerror=alert(1)>", "Deal\x00"])
def test_the_override_reason_is_plain_text_next_to_the_field(client, trade, reason):
    client.force_login(trade.customer_admin.user)
    response = client.post(
        tolerances_url(trade.customer), {**OVERRIDE, "override-supplier": trade.supplier.pk, "override-reason": reason}
    )
    assert response.status_code == 400
    assert response.context["override_form"].errors["reason"]
    assert 'value="2"' in response.content.decode()  # what was typed stays
    assert not SupplierTolerance.objects.exists()


@pytest.mark.parametrize("reason", ["<b>Good deal</b>", "Deal\x00", "Deal\x1b[31m"])
def test_the_override_service_refuses_markup_and_control_characters(trade, reason):
    with pytest.raises(DomainError) as exc:
        services.set_supplier_tolerance(by=trade.customer_admin, supplier=trade.supplier, reason=reason)
    assert exc.value.field == "reason"
    assert not SupplierTolerance.objects.exists()


def test_a_plain_reason_is_kept(trade):
    override = services.set_supplier_tolerance(
        by=trade.customer_admin, supplier=trade.supplier, reason="Deal of 3 < 5 units", over_receipt_percent=Decimal(3)
    )
    assert override.reason == "Deal of 3 < 5 units"


@pytest.mark.parametrize("typed", ["٥", "+5", "５", "1e1"])
def test_tolerance_figures_take_ascii_digits_only(client, trade, typed):
    client.force_login(trade.customer_admin.user)
    response = client.post(
        tolerances_url(trade.customer),
        {
            "policy-over_receipt_percent": typed,
            "policy-under_receipt_percent": "1",
            "policy-price_variance_percent": "2",
            "policy-price_variance_amount": "0.05",
            "policy-billed_band": "0.10",
        },
    )
    assert response.status_code == 400
    assert response.context["policy_form"].errors["over_receipt_percent"] == [
        "Enter a number with the digits 0–9 and a point for decimals, e.g. 1234.50."
    ]


@pytest.mark.parametrize("typed", ["٥", "+5", "2147483648"])
def test_payment_terms_of_a_connection_take_ascii_digits_within_a_year(typed):
    form = ConnectionTermsForm(data={"payment_terms_days": typed}, locations=Location.objects.none())
    assert not form.is_valid() and "payment_terms_days" in form.errors


# --------------------------------------------------------------------------- the admin


@pytest.fixture
def superuser(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def admin_post(client, path: str, data: dict):
    """Post ``data`` to an admin form page, with empty management forms for its inlines."""
    page = client.get(path)
    for formset in page.context.get("inline_admin_formsets", []):
        prefix = formset.formset.prefix
        data = {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
            **data,
        }
    return client.post(path, data)


ORGANIZATION = {
    "slug": "new-org",
    "base_currency": "USD",
    "buys": "on",
    "po_prefix": "PO",
    "so_prefix": "SO",
    "invoice_prefix": "INV",
    "bill_prefix": "BILL",
    "rma_prefix": "RMA",
    "credit_note_prefix": "CN",
    "debit_note_prefix": "DN",
}


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "Acme\x00", "<b>Acme</b>"])
def test_an_organization_named_in_the_admin_is_plain_text(client, superuser, name):
    response = admin_post(client, reverse("admin:accounts_organization_add"), {**ORGANIZATION, "name": name})
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert not Organization.objects.filter(slug="new-org").exists()


def test_a_plain_organization_name_is_saved_in_the_admin(client, superuser):
    response = admin_post(client, reverse("admin:accounts_organization_add"), {**ORGANIZATION, "name": "Acme & Sons"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Organization.objects.get(slug="new-org").name == "Acme & Sons"


def test_a_persons_name_in_the_admin_is_plain_text(client, superuser):
    person = UserFactory()
    path = reverse("admin:accounts_user_change", args=[person.pk])
    response = client.post(path, {"email": person.email, "full_name": "<b>Boss</b>", "is_active": "on"})
    assert response.status_code == 200
    assert "full_name" in response.context["adminform"].form.errors


def test_connection_terms_in_the_admin_keep_to_the_database_range(client, superuser, trade):
    """A small-integer column: 40,000 days fits SQLite and fails PostgreSQL; refused on both."""
    path = reverse("admin:accounts_connection_change", args=[trade.connection.pk])
    response = admin_post(client, path, {"currency": "USD", "payment_terms_days": "40000"})
    assert response.status_code == 200
    assert "payment_terms_days" in response.context["adminform"].form.errors
    response = admin_post(client, path, {"currency": "USD", "payment_terms_days": "٣٠"})
    assert "payment_terms_days" in response.context["adminform"].form.errors
    trade.connection.refresh_from_db()
    assert trade.connection.payment_terms_days == 30
