"""The accounts pages through the test client: forms keep input, flows work end to end."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Connection, Membership, Organization
from accounts.roles import Role
from tests.factories import ConnectionFactory, LocationFactory, OrganizationFactory, SupplierFactory, member

SIGNUP = {
    "full_name": "Ann Buyer",
    "email": "ann@example.com",
    "password1": "a-long-passphrase",
    "password2": "a-long-passphrase",
    "organization_name": "Ann's Bakery",
    "base_currency": "EUR",
    "buys": "on",
}


def test_sign_up_logs_in_and_lands_on_the_new_organization(client, db):
    response = client.post(reverse("accounts:signup"), SIGNUP, follow=True)
    org = Organization.objects.get()
    assert response.redirect_chain[-1][0] == reverse("home:org-home", args=[org.slug])
    assert "Ann&#x27;s Bakery is ready" in response.content.decode()


def test_sign_up_errors_show_next_to_the_field_and_keep_what_was_typed(client, db):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "password2": "different", "buys": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The two passwords differ." in page
    assert "tick at least one" in page
    assert 'value="Ann&#x27;s Bakery"' in page and 'value="ann@example.com"' in page
    assert 'aria-invalid="true"' in page
    assert not Organization.objects.exists()


def test_sign_up_refuses_markup_in_the_organization_name(client, db):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "organization_name": "<script>x</script>"})
    assert "HTML tags" in response.content.decode()
    assert not Organization.objects.exists()


def test_log_in_by_email_in_any_case(client, db):
    m = member(OrganizationFactory())
    response = client.post(reverse("accounts:login"), {"username": m.user.email.upper(), "password": "demo"})
    assert response.status_code == 302


def test_failed_log_ins_lock_the_pair_not_the_account(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    m = member(OrganizationFactory())
    url = reverse("accounts:login")
    for _ in range(3):
        client.post(url, {"username": m.user.email, "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    locked = client.post(url, {"username": m.user.email, "password": "demo"}, REMOTE_ADDR="10.0.0.1")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    # The owner, from their own address, still gets in: nobody can lock a victim out from elsewhere.
    ok = client.post(url, {"username": m.user.email, "password": "demo"}, REMOTE_ADDR="10.0.0.2")
    assert ok.status_code == 302


def test_password_reset_sends_a_link_that_works(client, db, django_capture_on_commit_callbacks):
    m = member(OrganizationFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password-reset"), {"email": m.user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/account/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "another-long-pass", "new_password2": "another-long-pass"})
    assert response.status_code == 302
    m.user.refresh_from_db()
    assert m.user.check_password("another-long-pass")


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and not mail.outbox


def test_home_sends_to_the_only_organization_and_remembers_the_last(client, db):
    m = member(OrganizationFactory())
    client.force_login(m.user)
    assert client.get("/")["Location"] == reverse("home:org-home", args=[m.organization.slug])
    other = OrganizationFactory()
    Membership.objects.create(user=m.user, organization=other, roles=["admin"])
    client.get(reverse("home:org-home", args=[other.slug]))
    assert client.get("/")["Location"] == reverse("home:org-home", args=[other.slug])


def test_switcher_lists_every_organization_of_the_user(client, db):
    m = member(OrganizationFactory(name="First Co"))
    Membership.objects.create(user=m.user, organization=OrganizationFactory(name="Second Co"), roles=["buyer"])
    client.force_login(m.user)
    page = client.get(reverse("home:org-home", args=[m.organization.slug])).content.decode()
    assert "First Co" in page and "Second Co" in page


def test_member_invitation_through_the_pages(client, db, django_capture_on_commit_callbacks):
    org = OrganizationFactory(name="Inviting Co")
    admin = member(org)
    client.force_login(admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:members", args=[org.slug]), {"email": "newbie@example.com", "roles": ["buyer"]}
        )
    assert response.status_code == 302
    link = re.search(r"http://testserver(/invitations/join/\S+/)", mail.outbox[0].body).group(1)
    client.logout()
    page = client.get(link).content.decode()
    assert "Join Inviting Co" in page
    bad = client.post(
        link,
        {
            "full_name": "New",
            "email": "other@example.com",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
    )
    assert "This invitation is for newbie@example.com" in bad.content.decode()
    response = client.post(
        link,
        {
            "full_name": "New Bie",
            "email": "newbie@example.com",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
    )
    assert response["Location"] == reverse("home:org-home", args=[org.slug])
    assert Membership.objects.get(user__email="newbie@example.com").roles == ["buyer"]


def test_invite_form_offers_only_roles_that_apply_and_keeps_input_on_error(client, db):
    org = OrganizationFactory(buys=True, sells=False)
    client.force_login(member(org).user)
    url = reverse("accounts:members", args=[org.slug])
    page = client.get(url).content.decode()
    assert 'value="buyer"' in page and 'value="sales"' not in page
    response = client.post(url, {"email": "x@example.com", "roles": ["sales"]})
    page = response.content.decode()
    assert "Select a valid choice" in page and 'value="x@example.com"' in page
    assert not org.invitations.exists()


def test_supplier_signs_up_through_the_invitation_and_accepts(client, db, django_capture_on_commit_callbacks):
    customer = OrganizationFactory(name="Buyer Co", buys=True)
    client.force_login(member(customer).user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:connection-invite", args=[customer.slug]),
            {"email": "sales@newsupplier.example", "payment_terms_days": "30", "currency": ""},
        )
    link = re.search(r"http://testserver(/invitations/connect/\S+/)", mail.outbox[-1].body).group(1)
    client.logout()
    page = client.get(link).content.decode()
    assert "Buyer Co invites you to be their supplier" in page
    signup = reverse("accounts:signup")
    response = client.post(
        f"{signup}?next={link}",
        {
            **SIGNUP,
            "email": "sales@newsupplier.example",
            "organization_name": "New Supplier",
            "buys": "",
            "sells": "on",
            "next": link,
        },
    )
    assert response["Location"] == link
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link, {"action": "accept", "organization": "new-supplier"})
    connection = Connection.objects.get()
    assert connection.status == "active" and connection.supplier.name == "New Supplier"
    assert response["Location"] == reverse("accounts:connection-detail", args=["new-supplier", connection.pk])
    assert "accepted your invitation" in mail.outbox[-1].subject


def test_connection_terms_form_refuses_another_tenants_location(client, db):
    connection = ConnectionFactory()
    client.force_login(member(connection.customer).user)
    foreign = LocationFactory()
    response = client.post(
        reverse("accounts:connection-detail", args=[connection.customer.slug, connection.pk]),
        {"currency": "USD", "payment_terms_days": "45", "ship_to": foreign.pk},
    )
    assert "Select a valid choice" in response.content.decode()
    connection.refresh_from_db()
    assert connection.payment_terms_days == 30


def test_suspend_and_reactivate_through_the_pages(client, db):
    connection = ConnectionFactory()
    client.force_login(member(connection.supplier).user)
    slug = connection.supplier.slug
    client.post(reverse("accounts:connection-suspend", args=[slug, connection.pk]), {"reason": "Overdue invoices"})
    connection.refresh_from_db()
    assert connection.status == "suspended"
    page = client.get(reverse("accounts:connection-detail", args=[slug, connection.pk])).content.decode()
    assert "Overdue invoices" in page and "Reactivate connection" in page
    client.post(reverse("accounts:connection-reactivate", args=[slug, connection.pk]))
    connection.refresh_from_db()
    assert connection.status == "active"


def test_settings_form_error_keeps_input_and_does_not_rename(client, db):
    org = OrganizationFactory(name="Stable Name")
    client.force_login(member(org).user)
    response = client.post(
        reverse("accounts:settings", args=[org.slug]),
        {
            "name": "New <b>name</b>",
            "base_currency": "USD",
            "buys": "on",
            "notification_email": "not-an-email",
        },
    )
    page = response.content.decode()
    assert "Enter a valid email address." in page and "HTML tags" in page
    assert "Stable Name" in page  # header still shows the saved name
    org.refresh_from_db()
    assert org.name == "Stable Name"


@pytest.mark.parametrize("count", [5, 50])
def test_connection_list_query_count_does_not_grow(client, db, django_assert_max_num_queries, count):
    org = OrganizationFactory(buys=True, sells=True)
    for _ in range(count):
        ConnectionFactory(customer=org, ship_to=LocationFactory(organization=org, is_default=False))
        ConnectionFactory(supplier=org, customer=OrganizationFactory())
    client.force_login(member(org, Role.BUYER).user)
    url = reverse("accounts:connections", args=[org.slug])
    client.get(url)  # the first visit of an organization writes it to the session
    with django_assert_max_num_queries(5):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("count", [5, 50])
def test_members_page_query_count_does_not_grow(client, db, django_assert_max_num_queries, count):
    org = OrganizationFactory()
    admin = member(org)
    for _ in range(count):
        member(org, Role.BUYER)
    client.force_login(admin.user)
    url = reverse("accounts:members", args=[org.slug])
    client.get(url)
    with django_assert_max_num_queries(7):  # one of them reads the bounced addresses of all members
        assert client.get(url).status_code == 200


def test_home_and_connection_pages_are_bounded(client, db, django_assert_max_num_queries):
    connection = ConnectionFactory(supplier=SupplierFactory())
    client.force_login(member(connection.customer).user)
    client.get(reverse("home:org-home", args=[connection.customer.slug]))
    # session, user, membership, switcher, 2 invitations, 2 connections, orders, approvals, bills,
    # debit notes (credits issued), returns (to ship back, on their way); the charts: orders and
    # bills by month, orders by supplier, budgets
    with django_assert_max_num_queries(17):
        client.get(reverse("home:org-home", args=[connection.customer.slug]))
    with django_assert_max_num_queries(7):
        client.get(reverse("accounts:connection-detail", args=[connection.customer.slug, connection.pk]))


def test_sign_up_reports_every_problem_in_one_round(client, db):
    member(OrganizationFactory(), email="taken@example.com")
    response = client.post(
        reverse("accounts:signup"),
        {
            **SIGNUP,
            "email": "taken@example.com",
            "password1": "123",
            "password2": "123",
            "organization_name": "",
        },
    )
    page = response.content.decode()
    assert "exists already" in page and "too short" in page and "This field is required." in page


def test_a_password_reset_lifts_the_log_in_lock(client, db, settings, django_capture_on_commit_callbacks):
    settings.AXES_FAILURE_LIMIT = 2
    m = member(OrganizationFactory())
    url = reverse("accounts:login")
    for _ in range(2):
        client.post(url, {"username": m.user.email, "password": "wrong"})
    assert client.post(url, {"username": m.user.email, "password": "demo"}).status_code == 429
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password-reset"), {"email": m.user.email})
    link = re.search(r"http://testserver(/account/reset/\S+/)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": "fresh-long-pass", "new_password2": "fresh-long-pass"})
    assert client.post(url, {"username": m.user.email, "password": "fresh-long-pass"}).status_code == 302


def test_settings_capabilities_error_sits_next_to_the_field(client, db):
    org = OrganizationFactory(buys=True)
    client.force_login(member(org).user)
    page = client.post(reverse("accounts:settings", args=[org.slug]), {"name": "X", "base_currency": "USD"})
    page = page.content.decode()
    assert 'id="id_buys-error"' in page and "tick at least one" in page
    assert "Constraint" not in page


def test_an_organization_with_active_suppliers_keeps_buying(client, db):
    connection = ConnectionFactory()
    org = connection.customer
    client.force_login(member(org).user)
    page = client.post(
        reverse("accounts:settings", args=[org.slug]),
        {"name": org.name, "base_currency": "USD", "sells": "on"},
    ).content.decode()
    assert "before you stop buying" in page
    org.refresh_from_db()
    assert org.buys


def test_a_role_refusal_is_a_page_that_explains(client, db):
    org = OrganizationFactory()
    client.force_login(member(org, Role.BUYER).user)
    response = client.get(reverse("accounts:members", args=[org.slug]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "not open to your role" in page and "buyer" in page and org.get_absolute_url() in page


def test_connection_page_offers_only_the_actions_allowed_now(client, db):
    connection = ConnectionFactory()
    client.force_login(member(connection.supplier).user)
    url = reverse("accounts:connection-detail", args=[connection.supplier.slug, connection.pk])
    page = client.get(url).content.decode()
    assert "Suspend connection" in page and "Withdraw invitation" not in page
    client.force_login(member(connection.supplier, Role.SALES).user)
    assert "Suspend connection" not in client.get(url).content.decode()
