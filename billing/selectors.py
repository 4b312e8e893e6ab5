"""Every tenant-scoped read of the billing app."""

from __future__ import annotations

from orders.models import PurchaseOrder

from .models import Bill, Invoice


def bill_of(po: PurchaseOrder) -> Bill | None:
    """The customer's bill of an order (None until the documents are made)."""
    return Bill.objects.filter(purchase_order=po, customer_id=po.customer_id).first()


def invoice_of(po: PurchaseOrder) -> Invoice | None:
    """The supplier's invoice of an order (None until the documents are made)."""
    return Invoice.objects.filter(purchase_order=po, supplier_id=po.supplier_id).first()
