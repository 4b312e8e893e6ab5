"""Recording a shipment (the supplier) and a receipt (the customer)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import tolerances_for
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import OrgView

from .. import rules, selectors
from ..forms import ReceiptForm, ReceiptLinesForm, ShipmentForm, ShipmentLinesForm
from ..services.fulfilment import record_receipt, record_shipment
from .common import PurchaseOrderMixin, SalesOrderMixin, _plain


class ShipmentCreateView(SalesOrderMixin, OrgView):
    """*Record shipment*: what goes out now, per line, with the carrier and tracking number.
    A refusal marks the line it is about and keeps everything typed."""

    permission = "orders.add_shipment"
    template_name = "orders/so_ship.html"

    def rows(self, po, posted=None, marked=None):
        rows = []
        for line in selectors.lines_of(po, coding=False):
            if line.is_void:
                continue
            left = line.left_to_ship
            value = posted.get(line.pk, "") if posted is not None else _plain(left)
            rows.append(
                {
                    "line": line,
                    "left": left,
                    "value": value,
                    "name": f"line-{line.pk}",
                    "error": marked == f"line-{line.pk}",
                }
            )
        return rows

    def show(self, so, form, rows, error=None, status=200):
        return render(
            self.request,
            self.template_name,
            {"so": so, "po": so.purchase_order, "form": form, "rows": rows, "error": error},
            status=status,
        )

    def get(self, request, org_slug, number):
        so = self.get_so()
        refused = rules.refusal("ship", po=so.purchase_order, so=so, membership=self.membership)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        form = ShipmentForm(initial={"shipped_on": timezone.localdate()})
        return self.show(so, form, self.rows(so.purchase_order))

    def post(self, request, org_slug, number):
        so = self.get_so()
        po = so.purchase_order
        form = ShipmentForm(request.POST)
        lines = ShipmentLinesForm(request.POST, lines=selectors.lines_of(po, coding=False))
        posted = {pk: values["quantity"] for pk, values in lines.typed().items()}
        if not form.is_valid():
            return self.show(so, form, self.rows(po, posted), status=400)
        if not lines.is_valid():
            error, marked = lines.refusal()
            return self.show(so, form, self.rows(po, posted, marked), error=error, status=400)
        try:
            shipment = record_shipment(so=so, by=self.membership, lines=lines.quantities(), **form.cleaned_data)
        except DomainError as exc:
            if exc.line is None and exc.field in form.fields:
                add_domain_error(form, exc)
            marked = lines.input_name(exc.line, exc.field) if exc.line is not None else None
            return self.show(so, form, self.rows(po, posted, marked), error=exc, status=400)
        messages.success(request, f"Shipment {shipment.number} recorded; {so.customer.name} has been told.")
        return redirect(self.done_url())


class ReceiptCreateView(PurchaseOrderMixin, OrgView):
    """*Record receipt*: what arrived, per line — in good condition, damaged, and (against a
    shipment) short — with a reason for what is damaged or short. The oldest shipment not yet
    received is proposed; goods without a shipment are counted by hand (nothing pre-filled)."""

    permission = "orders.add_receipt"
    template_name = "orders/po_receive.html"
    FIELDS = ("quantity", "damaged", "reason")  # the inputs of each line's row

    def tolerance(self, po) -> Decimal:
        """The over-receipt tolerance for this order's supplier (read once per request)."""
        if not hasattr(self, "_tolerance"):
            policy = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id)
            self._tolerance = policy.over_receipt_percent
        return self._tolerance

    def rows(self, po, shipment, posted=None, marked=None):
        tolerance = self.tolerance(po)
        expected = {sl.po_line_id: sl.quantity for sl in shipment.lines.all()} if shipment else None
        rows = []
        for line in selectors.lines_of(po, coding=False):
            if line.is_void or (expected is not None and line.pk not in expected):
                continue
            in_shipment = expected.get(line.pk) if expected is not None else None
            if posted is not None:
                values = posted.get(line.pk, {})
            else:
                values = {"quantity": _plain(in_shipment) if in_shipment is not None else ""}
            prefix = f"line-{line.pk}"
            rows.append(
                {
                    "line": line,
                    "left": line.left_to_receive(tolerance),
                    "in_shipment": in_shipment,
                    "inputs": {
                        name: {
                            "name": f"{prefix}-{name}",
                            "value": values.get(name, ""),
                            "error": marked == f"{prefix}-{name}",
                        }
                        for name in self.FIELDS
                    },
                }
            )
        return rows

    def show(self, po, form, shipment, rows, error=None, status=200, shipment_value=None):
        shipments = selectors.unreceived_shipments_of(po)
        return render(
            self.request,
            self.template_name,
            {
                "po": po,
                "form": form,
                "shipment": shipment,
                "shipments": shipments,
                "shipment_value": shipment_value
                if shipment_value is not None
                else (shipment.pk if shipment else "none"),
                "rows": rows,
                "error": error,
                "tolerance": tolerances_for(
                    customer_id=po.customer_id, supplier_id=po.supplier_id
                ).over_receipt_percent,
            },
            status=status,
        )

    def get(self, request, org_slug, number):
        po = self.get_po()
        refused = rules.refusal("receive", po=po, membership=self.membership)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        wanted = request.GET.get("shipment", "")  # none: goods without one; blank: the oldest on its way
        shipment = None if wanted == "none" else selectors.unreceived_shipment(po, wanted or None)
        form = ReceiptForm(initial={"received_on": timezone.localdate()}, supplier=po.supplier.name)
        return self.show(po, form, shipment, self.rows(po, shipment))

    def post(self, request, org_slug, number):
        po = self.get_po()
        raw_shipment = request.POST.get("shipment", "")
        shipment = None if raw_shipment in ("", "none") else selectors.unreceived_shipment(po, raw_shipment)
        form = ReceiptForm(request.POST, supplier=po.supplier.name)
        lines = ReceiptLinesForm(request.POST, lines=selectors.lines_of(po, coding=False))
        posted = lines.typed()
        if raw_shipment not in ("", "none") and shipment is None:
            # Received meanwhile (or not this order's): keep what was typed, record nothing, and
            # keep the choice so that submitting again cannot count the goods a second time.
            form.is_valid()
            error = DomainError(
                "That shipment has been received already (see the order), or is not one of this order's. "
                "Choose another shipment, or none.",
                field="shipment",
            )
            rows = self.rows(po, None, posted)
            return self.show(po, form, None, rows, error=error, status=400, shipment_value=raw_shipment)
        if not form.is_valid():
            return self.show(po, form, shipment, self.rows(po, shipment, posted), status=400)
        if not lines.is_valid():
            error, marked = lines.refusal()
            return self.show(po, form, shipment, self.rows(po, shipment, posted, marked), error=error, status=400)
        try:
            received = record_receipt(
                po=po, by=self.membership, lines=lines.received(), shipment=shipment, **form.cleaned_data
            )
        except DomainError as exc:
            if exc.line is None and exc.field in form.fields:
                add_domain_error(form, exc)
            marked = lines.input_name(exc.line, exc.field) if exc.line is not None else None
            return self.show(po, form, shipment, self.rows(po, shipment, posted, marked), error=exc, status=400)
        done = {
            "closed": "everything is received: the order is complete",
            "received": "everything is received",
            "partially_received": "the order is partially received",
        }
        messages.success(
            request,
            f"Receipt {received.receipt.number} recorded; "
            f"{done.get(received.status, 'nothing is counted as received yet')}.",
        )
        return redirect(self.done_url())
