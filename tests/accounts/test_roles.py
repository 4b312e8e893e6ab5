"""The permission table of SPEC §2, granted and refused, in the table, the services and the views."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.permissions import can, require
from accounts.roles import PERMISSIONS, Role
from orders.services import listings
from procurement.errors import NotAllowed
from tests.factories import ConnectionFactory, ListingFactory, OrganizationFactory, listing_values, member

A, B, AP, R, P, S, F, RV = (
    "admin",
    "buyer",
    "approver",
    "receiver",
    "payables",
    "sales",
    "fulfilment",
    "receivables",
)
# SPEC §2, copied by hand: one row per permission, the roles with a ✓.
SPEC_TABLE = {
    "orders.view_purchaseorder": {A, B, AP, R, P},
    "billing.view_bill": {A, B, AP, R, P},
    "orders.add_purchaseorder": {A, B},
    "orders.change_purchaseorder": {A, B},
    "orders.submit_purchaseorder": {A, B},
    "orders.confirm_purchaseorder": {A, B},
    "orders.request_changes_purchaseorder": {A, B},
    "orders.cancel_purchaseorder": {A, B},
    "orders.add_amendment": {A, B},  # amend a confirmed order: the buyer's, like confirming it
    "approvals.approve_approvalrequest": {A, AP},
    "orders.add_receipt": {A, R},
    "orders.add_returnrequest": {A, B, R},  # issue 19: "customer side: receivers, buyers, admins"
    "billing.add_payment": {A, P},
    "billing.change_bill": {A, P},
    "billing.match_bill": {A, P},
    "billing.add_bill": {A, P},  # entering a supplier's paper invoice is payables' work too
    "billing.cancel_bill": {A, P},  # "cancel (with permission)", SPEC §6
    "orders.mark_billed_purchaseorder": {A},  # and the order's requester, checked on the order
    "orders.view_salesorder": {A, S, F, RV},
    "billing.view_invoice": {A, S, F, RV},
    "orders.view_listing": {A, S, F, RV},
    "orders.add_listing": {A, S, F, RV},
    "orders.change_listing": {A, S, F, RV},
    "orders.change_salesorder": {A, S},
    "orders.accept_salesorder": {A, S},
    "orders.decline_salesorder": {A, S},
    "orders.accept_amendment": {A, S},  # "the supplier accepts the amendment": who accepts orders
    "orders.add_shipment": {A, F},
    "orders.answer_returnrequest": {A, S},  # the return authorization: who accepts orders
    "orders.receive_returnrequest": {A, S, F},  # what arrived back: who ships, or sales
    "billing.verify_payment": {A, RV},
    "accounts.manage_members": {A},
    "accounts.manage_connections": {A},
    "accounts.change_organization": {A},
    "approvals.change_approvalpolicy": {A},
}


def test_the_table_is_the_spec():
    assert {p: {r.value for r in roles} for p, roles in PERMISSIONS.items()} == SPEC_TABLE


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_gets_exactly_its_permissions(db, role):
    org = OrganizationFactory(buys=True, sells=True)
    membership = member(org, role)
    for permission, roles in SPEC_TABLE.items():
        assert can(membership, permission) is (role in roles), (role, permission)


def test_capability_refuses_selling_permissions_to_a_buying_organization(db):
    membership = member(OrganizationFactory(buys=True, sells=False), Role.ADMIN)
    assert can(membership, "orders.view_purchaseorder")
    assert not can(membership, "orders.add_listing")
    with pytest.raises(NotAllowed, match="does not sell"):
        require(membership, "orders.add_listing")


def test_unknown_permission_is_a_programming_error(db):
    with pytest.raises(LookupError):
        can(member(OrganizationFactory()), "orders.fly_to_the_moon")


# --- in the services ---------------------------------------------------------------------

LISTING = {"sku": "R-1", "name": "Role test", "unit": "ea", "unit_price": "1.00", "currency": "USD"}


@pytest.mark.parametrize("role,allowed", [(A, True), (S, True), (F, True), (RV, True), (B, False), (P, False)])
def test_listing_services_follow_the_table(db, role, allowed):
    org = OrganizationFactory(buys=True, sells=True)
    membership = member(org, role)
    if allowed:
        listings.save_listing(by=membership, values=listing_values(membership, LISTING))
    else:
        with pytest.raises(NotAllowed):
            listings.save_listing(by=membership, values=listing_values(membership, LISTING))
        assert not org.listings.exists()


@pytest.mark.parametrize("role", [B, AP, R, P, S, F, RV])
def test_admin_only_services_refuse_other_roles(db, role):
    org = OrganizationFactory(buys=True, sells=True)
    membership = member(org, role)
    with pytest.raises(NotAllowed):
        services.invite_member(by=membership, email="x@example.com", roles=["buyer"])
    with pytest.raises(NotAllowed):
        services.invite_supplier(by=membership, email="x@example.com")
    with pytest.raises(NotAllowed):
        services.update_organization(by=membership, name="Renamed")
    connection = ConnectionFactory(customer=org)
    with pytest.raises(NotAllowed):
        services.suspend_connection(by=membership, connection=connection)
    org.refresh_from_db()
    assert org.name != "Renamed"
    assert not org.invitations.exists()
    assert org.supplier_connections.count() == 1


# --- in the views ------------------------------------------------------------------------


@pytest.mark.parametrize("role,status", [(A, 200), (B, 403), (S, 403)])
def test_admin_pages_refuse_other_roles(client, db, role, status):
    org = OrganizationFactory(buys=True, sells=True)
    client.force_login(member(org, role).user)
    for name in ("accounts:members", "accounts:settings", "accounts:connection-invite"):
        assert client.get(reverse(name, args=[org.slug])).status_code == status, name
    response = client.post(reverse("accounts:members", args=[org.slug]), {"email": "x@example.com", "roles": ["buyer"]})
    assert response.status_code == (302 if role == A else 403)
    assert org.invitations.exists() is (role == A)


@pytest.mark.parametrize("role,status", [(S, 200), (F, 200), (RV, 200), (B, 403), (AP, 403)])
def test_listing_pages_follow_the_table(client, db, role, status):
    org = OrganizationFactory(buys=True, sells=True)
    listing = ListingFactory(supplier=org)
    client.force_login(member(org, role).user)
    assert client.get(reverse("orders:listings", args=[org.slug])).status_code == status
    assert client.get(reverse("orders:listing-edit", args=[org.slug, listing.pk])).status_code == status
    response = client.post(reverse("orders:listing-deactivate", args=[org.slug, listing.pk]))
    listing.refresh_from_db()
    assert listing.is_active is (status != 200)
    assert response.status_code == (302 if status == 200 else 403)


def test_navigation_shows_only_what_the_role_may_open(client, db):
    org = OrganizationFactory(buys=True, sells=True)
    client.force_login(member(org, Role.BUYER).user)
    page = client.get(reverse("home:org-home", args=[org.slug])).content.decode()
    assert reverse("orders:listings", args=[org.slug]) not in page
    assert reverse("accounts:members", args=[org.slug]) not in page
    client.force_login(member(org, Role.ADMIN).user)
    page = client.get(reverse("home:org-home", args=[org.slug])).content.decode()
    assert reverse("orders:listings", args=[org.slug]) in page
    assert reverse("accounts:members", args=[org.slug]) in page
