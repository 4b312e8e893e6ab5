"""Every rule of the accounts services, and every refusal (a refusal writes nothing)."""

import pytest
from django.core import mail

from accounts import services
from accounts.models import Connection, ConnectionEvent, Membership, OutboundEmail, User
from accounts.roles import Role
from procurement.errors import DomainError, NotAllowed
from tests.factories import (
    ConnectionFactory,
    LocationFactory,
    OrganizationFactory,
    SupplierFactory,
    UserFactory,
    member,
)

SIGNUP = {
    "email": "Ann@Example.com",
    "password": "a-long-passphrase",
    "full_name": "Ann Buyer",
    "organization_name": "Ann's Bakery",
    "base_currency": "EUR",
    "buys": True,
    "sells": False,
}


def test_sign_up_creates_user_organization_admin_membership_and_sequences(db):
    membership = services.sign_up(**SIGNUP)
    assert membership.user.email == "ann@example.com"
    assert membership.roles == ["admin"]
    org = membership.organization
    assert (org.name, org.slug, org.base_currency) == ("Ann's Bakery", "anns-bakery", "EUR")
    assert org.sequences.count() == 7  # PO, SO, invoice, bill, RMA, credit note, debit note


@pytest.mark.parametrize(
    "change,field",
    [
        ({"password": "123"}, "password1"),
        ({"full_name": "  "}, "full_name"),
        ({"organization_name": ""}, "organization_name"),
        ({"buys": False, "sells": False}, "buys"),
        ({"base_currency": "XXX"}, "base_currency"),
    ],
)
def test_sign_up_refuses_bad_input_and_writes_nothing(db, change, field):
    with pytest.raises(DomainError) as error:
        services.sign_up(**{**SIGNUP, **change})
    assert error.value.field == field
    assert not User.objects.exists()


def test_sign_up_refuses_an_existing_address_whatever_its_case(db):
    UserFactory(email="ann@example.com")
    with pytest.raises(DomainError, match="exists already"):
        services.sign_up(**SIGNUP)


def test_slugs_stay_unique(db):
    a = services.sign_up(**SIGNUP).organization
    b = services.sign_up(**{**SIGNUP, "email": "bob@example.com"}).organization
    assert (a.slug, b.slug) == ("anns-bakery", "anns-bakery-2")


def test_document_numbers_follow_prefix_and_never_repeat(db):
    org = OrganizationFactory(po_prefix="PO")
    numbers = [services.next_document_number(organization=org, kind="po") for _ in range(3)]
    assert numbers == ["PO-000001", "PO-000002", "PO-000003"]
    assert services.next_document_number(organization=org, kind="invoice") == "INV-000001"
    other = OrganizationFactory()
    assert services.next_document_number(organization=other, kind="po") == "PO-000001"


def test_document_numbers_recover_a_missing_sequence(db):
    org = OrganizationFactory()
    org.sequences.all().delete()
    assert services.next_document_number(organization=org, kind="bill") == "BILL-000001"


# --- members -----------------------------------------------------------------------------


def test_invite_member_sends_one_email_and_accepting_makes_a_member(db, django_capture_on_commit_callbacks):
    org = OrganizationFactory(buys=True, sells=False)
    admin = member(org)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_member(by=admin, email="New@Example.com", roles=["buyer", "receiver"])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert org.name in mail.outbox[0].subject
    assert "/invitations/join/" in mail.outbox[0].body
    user = UserFactory(email="new@example.com")
    membership = services.accept_member_invitation(invitation=invitation, user=user)
    assert membership.roles == ["buyer", "receiver"]
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    with pytest.raises(DomainError, match="accepted"):
        services.accept_member_invitation(invitation=invitation, user=user)


def test_member_invitation_is_for_its_address_only(db):
    org = OrganizationFactory()
    invitation = services.invite_member(by=member(org), email="right@example.com", roles=["buyer"])
    with pytest.raises(DomainError, match="right@example.com"):
        services.accept_member_invitation(invitation=invitation, user=UserFactory(email="wrong@example.com"))
    assert org.memberships.count() == 1


@pytest.mark.parametrize(
    "roles,match",
    [([], "at least one"), (["pilot"], "Unknown role"), (["sales"], "does not sell")],
)
def test_invite_member_refuses_bad_roles(db, roles, match):
    org = OrganizationFactory(buys=True, sells=False)
    with pytest.raises(DomainError, match=match):
        services.invite_member(by=member(org), email="x@example.com", roles=roles)
    assert not org.invitations.exists()
    assert not OutboundEmail.objects.exists()


def test_invite_member_refuses_members_and_open_invitations(db):
    org = OrganizationFactory()
    admin = member(org)
    with pytest.raises(DomainError, match="member"):
        services.invite_member(by=admin, email=admin.user.email.upper(), roles=["buyer"])
    services.invite_member(by=admin, email="x@example.com", roles=["buyer"])
    with pytest.raises(DomainError, match="open invitation"):
        services.invite_member(by=admin, email="X@example.com", roles=["buyer"])


def test_the_last_admin_cannot_leave_or_lose_the_role(db):
    org = OrganizationFactory()
    admin = member(org)
    with pytest.raises(DomainError, match="only admin"):
        services.change_member_roles(by=admin, member=admin, roles=["buyer"])
    with pytest.raises(DomainError, match="only admin"):
        services.remove_member(by=admin, member=admin)
    other = member(org, Role.ADMIN)
    services.change_member_roles(by=other, member=admin, roles=["buyer"])
    assert Membership.objects.get(pk=admin.pk).roles == ["buyer"]


def test_members_of_another_organization_cannot_be_changed(db):
    admin = member(OrganizationFactory())
    stranger = member(OrganizationFactory(), Role.BUYER)
    with pytest.raises(Membership.DoesNotExist):
        services.change_member_roles(by=admin, member=stranger, roles=["admin"])
    assert Membership.objects.get(pk=stranger.pk).roles == ["buyer"]


def test_locations_keep_one_default(db):
    org = OrganizationFactory()
    admin = member(org)
    first = services.save_location(by=admin, name="A", address_line1="1 St", city="X", country="Y", is_default=False)
    assert first.is_default  # the first one is the default
    second = services.save_location(by=admin, name="B", address_line1="2 St", city="X", country="Y", is_default=True)
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    with pytest.raises(DomainError, match="name"):
        services.save_location(by=admin, name="b", address_line1="3 St", city="X", country="Y")


# --- connections -------------------------------------------------------------------------


def test_connection_lifecycle_with_history(db, django_capture_on_commit_callbacks):
    customer = OrganizationFactory(buys=True)
    buyer_admin = member(customer)
    ship_to = LocationFactory(organization=customer)
    supplier = SupplierFactory(base_currency="EUR")
    supplier_admin = member(supplier, email="sales@supplier.example")
    with django_capture_on_commit_callbacks(execute=True):
        connection = services.invite_supplier(by=buyer_admin, email="Sales@Supplier.example", payment_terms_days=45)
    assert connection.status == Connection.Status.INVITED
    assert connection.ship_to == ship_to  # the default location
    assert mail.outbox[-1].to == ["sales@supplier.example"]

    with django_capture_on_commit_callbacks(execute=True):
        connection = services.accept_connection(connection=connection, by=supplier_admin)
    assert (connection.status, connection.supplier, connection.currency) == ("active", supplier, "EUR")
    assert buyer_admin.user.email in mail.outbox[-1].to

    connection = services.suspend_connection(by=supplier_admin, connection=connection, reason="Credit hold")
    assert connection.suspended_by == supplier
    with pytest.raises(DomainError, match="only they can reactivate"):
        services.reactivate_connection(by=buyer_admin, connection=connection)
    connection = services.reactivate_connection(by=supplier_admin, connection=connection)
    assert connection.status == "active" and connection.suspended_by is None

    services.update_connection_terms(
        by=buyer_admin, connection=connection, currency="USD", payment_terms_days=60, ship_to=None
    )
    kinds = list(connection.events.order_by("created_at", "pk").values_list("kind", "actor__email"))
    assert [k for k, _ in kinds] == ["invited", "accepted", "suspended", "reactivated", "terms_changed"]
    assert kinds[2][1] == "sales@supplier.example"


def test_accept_needs_the_link_or_the_invited_address(db):
    connection = services.invite_supplier(by=member(OrganizationFactory()), email="right@supplier.example")
    stranger = member(SupplierFactory(), email="other@supplier.example")
    with pytest.raises(DomainError, match="another address"):
        services.accept_connection(connection=connection, by=stranger)
    connection.refresh_from_db()
    assert connection.status == "invited" and connection.supplier is None


def test_accept_with_the_link_works_for_any_admin_of_a_selling_organization(db):
    from accounts.models import hash_token

    connection = services.invite_supplier(by=member(OrganizationFactory()), email="right@supplier.example")
    connection.token_hash = hash_token("the-link")
    connection.save(update_fields=["token_hash"])
    colleague = member(SupplierFactory(), email="boss@supplier.example")
    assert services.accept_connection(connection=connection, by=colleague, token="the-link").status == "active"


@pytest.mark.parametrize("case", ["not_selling", "self", "already_connected", "not_admin"])
def test_accept_refusals_write_nothing(db, case):
    customer = OrganizationFactory(buys=True, sells=True)
    customer_admin = member(customer, email="a@customer.example")
    email = "s@supplier.example"
    if case == "not_selling":
        by = member(OrganizationFactory(buys=True, sells=False), email=email)
    elif case == "self":
        email = "a@customer.example"
        by = customer_admin
    elif case == "already_connected":
        supplier = SupplierFactory()
        ConnectionFactory(customer=customer, supplier=supplier)
        by = member(supplier, email=email)
    else:
        by = member(SupplierFactory(), Role.SALES, email=email)
    connection = ConnectionFactory(customer=customer, supplier=None, status="invited", invite_email=email)
    events = ConnectionEvent.objects.count()
    with pytest.raises(DomainError):
        services.accept_connection(connection=connection, by=by)
    connection.refresh_from_db()
    assert connection.status == "invited"
    assert ConnectionEvent.objects.count() == events


def test_only_the_customer_withdraws_or_sets_terms(db):
    connection = ConnectionFactory()
    supplier_admin = member(connection.supplier)
    with pytest.raises(DomainError, match="customer"):
        services.update_connection_terms(
            by=supplier_admin, connection=connection, currency="EUR", payment_terms_days=10, ship_to=None
        )
    with pytest.raises(DomainError):
        services.revoke_connection_invitation(by=supplier_admin, connection=connection)
    connection.refresh_from_db()
    assert connection.payment_terms_days == 30


def test_terms_refuse_another_tenants_location(db):
    connection = ConnectionFactory()
    with pytest.raises(DomainError, match="your own locations"):
        services.update_connection_terms(
            by=member(connection.customer),
            connection=connection,
            currency="USD",
            payment_terms_days=30,
            ship_to=LocationFactory(),
        )


def test_connections_of_others_cannot_be_touched(db):
    connection = ConnectionFactory()
    with pytest.raises(Connection.DoesNotExist):
        services.suspend_connection(by=member(OrganizationFactory()), connection=connection)
    connection.refresh_from_db()
    assert connection.status == "active"


def test_decline_records_and_tells_the_customer(db, django_capture_on_commit_callbacks):
    customer_admin = member(OrganizationFactory())
    connection = services.invite_supplier(by=customer_admin, email="s@supplier.example")
    with django_capture_on_commit_callbacks(execute=True):
        services.decline_connection(
            connection=connection,
            user=UserFactory(email="s@supplier.example"),
            reason="We do not sell to your region.",
        )
    connection.refresh_from_db()
    assert connection.status == "declined"
    assert "your region" in mail.outbox[-1].body


def test_an_organization_with_active_customers_keeps_selling(db):
    connection = ConnectionFactory()
    with pytest.raises(DomainError, match="stop selling"):
        services.update_organization(by=member(connection.supplier), sells=False, buys=True)
    connection.supplier.refresh_from_db()
    assert connection.supplier.sells


def test_a_non_admin_cannot_be_stopped_by_a_refused_action_from_acting(db):
    org = OrganizationFactory()
    with pytest.raises(NotAllowed):
        services.save_location(by=member(org, Role.BUYER), name="X", address_line1="1", city="c", country="d")
    assert not org.locations.exists()


def test_invite_supplier_refuses_addresses_that_lead_nowhere(db):
    customer = OrganizationFactory(buys=True)
    admin = member(customer)
    colleague = member(customer, Role.BUYER)
    with pytest.raises(DomainError, match="one of your members"):
        services.invite_supplier(by=admin, email=colleague.user.email)
    supplier = SupplierFactory(name="Known Supplier")
    ConnectionFactory(customer=customer, supplier=supplier)
    with pytest.raises(DomainError, match="Known Supplier, connected to you already"):
        services.invite_supplier(by=admin, email=member(supplier, Role.SALES).user.email)
    assert customer.supplier_connections.count() == 1
    assert not OutboundEmail.objects.exists()
