"""The data generator fills every table the pages read, in every state, and can run again."""

from django.core.management import call_command

from accounts.models import DocumentSequence, Organization
from orders.models import PurchaseOrder, PurchaseOrderLine, Revision, RevisionLine, SalesOrder


def test_generate_data_makes_consistent_orders_and_continues_numbering(db):
    call_command("generate_data", orders=120, verbosity=0)
    assert Organization.objects.filter(slug__startswith="gen-").count() == 100
    assert PurchaseOrder.objects.count() == 120
    assert PurchaseOrderLine.objects.count() == 600
    assert set(PurchaseOrder.objects.values_list("status", flat=True)) >= {"draft", "sent", "confirmed", "cancelled"}
    assert SalesOrder.objects.count() == PurchaseOrder.objects.exclude(status="draft").count()
    for revision in Revision.objects.all()[:20]:
        assert revision.lines.count() == 5
    assert RevisionLine.objects.exists()
    draft = PurchaseOrder.objects.select_related("requester").filter(status="draft").first()
    assert draft.requester.has_perm("orders.change_purchaseorder", draft)  # as if raised through the service
    call_command("generate_data", orders=30, verbosity=0)
    assert PurchaseOrder.objects.count() == 150
    numbers = list(PurchaseOrder.objects.values_list("customer_id", "number"))
    assert len(numbers) == len(set(numbers))
    seq = DocumentSequence.objects.get(organization__slug="gen-000", kind="po")
    assert seq.last_value == PurchaseOrder.objects.filter(customer__slug="gen-000").count()
    from billing.models import Bill, Invoice

    confirmed = PurchaseOrder.objects.filter(status="confirmed").count()
    assert Invoice.objects.count() == Bill.objects.count() == confirmed > 0
    assert not Bill.objects.filter(invoice__isnull=True).exists()
    assert Invoice.objects.values("supplier", "number").distinct().count() == confirmed
    bill = Bill.objects.order_by("-pk").first()
    seq = DocumentSequence.objects.get(organization=bill.customer, kind="bill")
    assert seq.last_value >= int(bill.number.split("-")[1])
