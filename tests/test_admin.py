"""The Django admin opens for a platform superuser: every changelist, add and change page."""

from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from tests.factories import ConnectionFactory, ListingFactory, LocationFactory, member


def test_every_admin_page_opens(client, db):
    root = User.objects.create_superuser(email="root@example.com", password="x", full_name="Root")
    client.force_login(root)
    connection = ConnectionFactory()
    member(connection.customer)
    LocationFactory(organization=connection.customer)
    ListingFactory(supplier=connection.supplier)
    request = RequestFactory().get("/")
    request.user = root
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert client.get(reverse(f"{prefix}_changelist")).status_code == 200, prefix
        if model_admin.has_add_permission(request):
            assert client.get(reverse(f"{prefix}_add")).status_code == 200, prefix
        obj = model.objects.first()
        if obj is not None:
            assert client.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200, prefix


def test_members_without_the_admin_role_are_not_let_into_the_admin(client, db):
    client.force_login(member(ConnectionFactory().customer, Role.BUYER, Role.APPROVER).user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(response["Location"]).status_code == 403  # signed in, but not for the admin


def test_the_admin_log_in_is_the_applications(client, db):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
