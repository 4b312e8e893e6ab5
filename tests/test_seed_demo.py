"""The embedded demo's data: seeded twice without harm, every journey of the README ready."""

import pytest
from django.core.management import call_command

from approvals.models import ApprovalRequest, Budget
from orders.models import PurchaseOrder

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_once_with_an_order_waiting_for_approval():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent
    statuses = sorted(PurchaseOrder.objects.filter(customer__slug="northwind").values_list("status", flat=True))
    assert statuses == ["closed", "draft", "partially_received", "pending_approval", "sent", "supplier_accepted"]
    waiting = ApprovalRequest.objects.get(status="pending")
    step = waiting.steps.get(status="open")
    assert step.name == "Department head"
    assert [u.email for u in step.approvers.all()] == ["approver@northwind.example"]
    assert Budget.objects.filter(organization__slug="northwind").count() == 2
