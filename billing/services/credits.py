"""Credit notes and debit notes of returns (SPEC §6, "Returns and credit notes"): when the supplier
records what arrived back of a return for credit, the orders service sets each return line's
``quantity_credited`` and asks billing (``orders.interfaces.Billing.credit_return_after_commit``);
a task then makes the supplier's **credit note** (linked to the invoice) and the customer's **debit
note** (linked to the bill and to the credit note) together, once.

The amounts are the order's prices with tax, rounded per the currency, and exact over several
credits of one line: a credit of ``q`` units of a line that ``prior`` units were credited of
before is worth ``line_amounts(prior + q) − line_amounts(prior)``, so crediting a line in pieces
adds up to the line to the last minor unit; the order's header discount is shared the same
cumulative way. Lock order: see ``common`` (the order, the bill, the invoice, then the return).

A cancelled bill: the customer bills the order otherwise (bills entered by hand, matched to it).
The supplier's credit note still lowers its invoice, and the customer's debit note is still made
(linked to the cancelled bill, as the record of what the supplier owes back against those bills),
but the cancelled bill is left as it is — as an amendment leaves it (``documents.revise_documents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.mail import queue_email
from accounts.services import next_document_number
from orders.events import emails_of, record_event
from orders.models import OrderEvent, PurchaseOrder, PurchaseOrderLine, ReturnLine, ReturnRequest
from orders.services.fulfilment import close_if_complete
from orders.totals import line_amounts
from procurement.errors import DomainError
from procurement.money import format_money, round_money
from procurement.transactions import require_atomic
from procurement.transitions import transition

from ..models import Bill, CreditNote, CreditNoteLine, DebitNote, DebitNoteLine, Invoice
from .common import _bill_url, _credit_note_url, _debit_note_url, _invoice_url
from .documents import issue_documents

ZERO = Decimal("0")


@dataclass(frozen=True)
class CreditLine:
    """One line of a credit: how much of an order line, and what it is worth."""

    po_line: PurchaseOrderLine
    quantity: Decimal
    line_total: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class CreditAmounts:
    lines: list[CreditLine]
    subtotal: Decimal
    discount: Decimal
    tax_total: Decimal
    total: Decimal


def credit_amounts(
    *,
    invoice: Invoice,
    credited: list[tuple[PurchaseOrderLine, Decimal]],
    prior: dict[int, Decimal],
    prior_subtotal: Decimal,
    prior_discount: Decimal,
) -> CreditAmounts:
    """What crediting ``credited`` (order lines and quantities) is worth on ``invoice``, given what
    earlier credit notes of the invoice took: ``prior`` units per order line, ``prior_subtotal`` and
    ``prior_discount`` in all. Pure: no query."""
    currency = invoice.currency
    lines = []
    for po_line, quantity in credited:
        before = prior.get(po_line.pk, ZERO)
        total_before, tax_before = line_amounts(before, po_line.unit_price, po_line.tax_rate, currency)
        total_after, tax_after = line_amounts(before + quantity, po_line.unit_price, po_line.tax_rate, currency)
        lines.append(CreditLine(po_line, quantity, total_after - total_before, tax_after - tax_before))
    subtotal = sum((line.line_total for line in lines), ZERO)
    tax_total = sum((line.tax_amount for line in lines), ZERO)
    discount = ZERO
    if invoice.discount and invoice.subtotal > 0:
        share = round_money(invoice.discount * (prior_subtotal + subtotal) / invoice.subtotal, currency)
        discount = min(share, invoice.discount) - prior_discount
    return CreditAmounts(lines, subtotal, discount, tax_total, subtotal - discount + tax_total)


def _units(quantity: Decimal, unit: str) -> str:
    return f"{quantity.normalize():f} {unit}"


def _to_credit(ret: ReturnRequest | None) -> bool:
    """A return that arrived back, asked a credit, and has something credited."""
    return (
        ret is not None
        and ret.status == ReturnRequest.Status.RECEIVED
        and ret.resolution == ReturnRequest.Resolution.CREDIT
        and ret.lines.filter(quantity_credited__gt=0).exists()
    )


def notes_of(ret: ReturnRequest) -> tuple[CreditNote, DebitNote] | None:
    """The credit note and the debit note of a return, once made (one query)."""
    credit = CreditNote.objects.filter(return_request=ret).select_related("debit_note").first()
    return (credit, credit.debit_note) if credit is not None else None


@transaction.atomic
def issue_credit_notes(*, return_request: ReturnRequest) -> tuple[CreditNote, DebitNote] | None:
    """The system makes the credit note and the debit note of a return for credit that arrived
    back, together: numbered from the supplier's and the customer's sequences, linked to the
    invoice and the bill (made first if the order has none yet), with the lines credited. The
    bill's *Returns* and the invoice's credited total grow by the credit; the bill settles again
    (what it asks is net of credits; a credit beyond what was left is a balance in the customer's
    favour), and the invoice is paid once verified payments cover what it asks now.

    Idempotent: under the order's row lock a second run finds the pair and writes nothing (the
    one-to-one constraints on the return make a second pair impossible whatever happens). None
    when there is nothing to credit: the return has not arrived back, asks a replacement, or has
    nothing credited. Refuses (DomainError, writing nothing) a credit of more than was invoiced."""
    po_id = ReturnRequest.objects.filter(pk=return_request.pk).values_list("purchase_order_id", flat=True).first()
    if po_id is None:
        return None
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier", "sales_order", "requester")
        .get(pk=po_id)
    )
    # The orders services change a return under its order's lock: what is read now stays so.
    ret = ReturnRequest.objects.filter(pk=return_request.pk).first()
    if not _to_credit(ret):
        return None
    made = notes_of(ret)
    if made is not None:
        return made
    if issue_documents(po=po) is None:  # the invoice and the bill, made first if their task has not run yet
        raise DomainError(f"{po.number} is {po.get_status_display().lower()}: nothing is invoiced to credit.")
    bill = Bill.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(purchase_order=po)
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(purchase_order=po)
    )
    ret = ReturnRequest.objects.select_for_update(of=("self",)).get(pk=ret.pk)
    credited = list(
        ReturnLine.objects.filter(return_request=ret, quantity_credited__gt=0)
        .select_related("po_line")
        .order_by("po_line__position", "pk")
    )
    amounts = _amounts(invoice, [(line.po_line, line.quantity_credited) for line in credited])
    credit_note, debit_note = _write_notes(po, ret, invoice, bill, amounts)
    _apply(invoice, bill, amounts.total)
    record_event(
        po,
        OrderEvent.Kind.CREDITED,
        body=_event_words(po, ret, invoice, bill, credit_note, debit_note),
        data={"return": ret.pk, "credit_note": credit_note.pk, "debit_note": debit_note.pk},
    )
    _tell(po, ret, invoice, bill, credit_note, debit_note)
    close_if_complete(po=po)  # the return may have been all the order waited for
    return credit_note, debit_note


def _amounts(invoice: Invoice, credited: list[tuple[PurchaseOrderLine, Decimal]]) -> CreditAmounts:
    """The credit's amounts, after what earlier credit notes of the invoice took (two queries);
    refuses a line credited beyond what was invoiced of it."""
    require_atomic()
    prior = dict(
        CreditNoteLine.objects.filter(credit_note__invoice=invoice, po_line__in=[line for line, _ in credited])
        .values("po_line")
        .annotate(quantity=Sum("quantity"))
        .values_list("po_line", "quantity")
        .order_by()
    )
    for po_line, quantity in credited:
        before = prior.get(po_line.pk) or ZERO
        if before + quantity > po_line.quantity_invoiced:
            invoiced = _units(po_line.quantity_invoiced, po_line.unit)
            raise DomainError(
                f"Line {po_line.position}: {_units(before + quantity, po_line.unit)} credited in all "
                f"would be more than the {invoiced} invoiced."
            )
    earlier = CreditNote.objects.filter(invoice=invoice).aggregate(subtotal=Sum("subtotal"), discount=Sum("discount"))
    return credit_amounts(
        invoice=invoice,
        credited=credited,
        prior={pk: quantity or ZERO for pk, quantity in prior.items()},
        prior_subtotal=earlier["subtotal"] or ZERO,
        prior_discount=earlier["discount"] or ZERO,
    )


def _write_notes(
    po: PurchaseOrder, ret: ReturnRequest, invoice: Invoice, bill: Bill, amounts: CreditAmounts
) -> tuple[CreditNote, DebitNote]:
    require_atomic()
    today = timezone.localdate()
    shared = {
        "purchase_order": po,
        "return_request": ret,
        "note_date": today,
        "currency": invoice.currency,
        "subtotal": amounts.subtotal,
        "discount": amounts.discount,
        "tax_total": amounts.tax_total,
        "total": amounts.total,
    }
    credit_note = CreditNote.objects.create(
        supplier=po.supplier,
        customer=po.customer,
        invoice=invoice,
        number=next_document_number(organization=po.supplier, kind="credit"),
        **shared,
    )
    debit_note = DebitNote.objects.create(
        customer=po.customer,
        supplier=po.supplier,
        bill=bill,
        credit_note=credit_note,
        supplier_reference=credit_note.number,
        number=next_document_number(organization=po.customer, kind="debit"),
        **shared,
    )
    for model, parent, note in (
        (CreditNoteLine, "credit_note", credit_note),
        (DebitNoteLine, "debit_note", debit_note),
    ):
        model.objects.bulk_create(
            model(
                **{parent: note},
                position=n,
                po_line=line.po_line,
                sku=line.po_line.sku,
                description=line.po_line.description,
                quantity=line.quantity,
                unit=line.po_line.unit,
                unit_price=line.po_line.unit_price,
                tax_rate=line.po_line.tax_rate,
                line_total=line.line_total,
                tax_amount=line.tax_amount,
            )
            for n, line in enumerate(amounts.lines, 1)
        )
    return credit_note, debit_note


def _apply(invoice: Invoice, bill: Bill, total: Decimal) -> None:
    """The invoice and the bill ask the credit less; a cancelled bill is left as it is."""
    require_atomic()
    invoice.credited_total += total
    if bill.status != Bill.Status.CANCELLED:
        bill.credited_total += total
        transition(bill, "settle", "settled", noun=f"Bill {bill.number}")
        bill.save()
    if invoice.status == Invoice.Status.OPEN and bill.verified_total >= invoice.net_total:
        transition(invoice, "mark_paid", "marked paid", noun=f"Invoice {invoice.number}")
    invoice.save()


def owes_words(bill: Bill) -> str:
    """What the bill asks now, in a sentence (after a credit)."""
    currency = bill.currency
    if bill.status == Bill.Status.CANCELLED:
        return f"Bill {bill.number} is cancelled: it is left as it is."
    if bill.balance_in_favour > 0:
        return (
            f"Bill {bill.number} was paid {format_money(bill.balance_in_favour, currency)} beyond what it asks now: "
            f"a balance in favour of {bill.customer.name}."
        )
    if bill.outstanding > 0:
        return f"Bill {bill.number} now asks {format_money(bill.outstanding, currency)}."
    return f"Bill {bill.number} is settled: nothing is left to pay."


def _event_words(
    po: PurchaseOrder, ret: ReturnRequest, invoice: Invoice, bill: Bill, credit: CreditNote, debit: DebitNote
) -> str:
    return (
        f"Credit note {credit.number} issued for {format_money(credit.total, credit.currency)} against invoice "
        f"{invoice.number}, for {ret.label}; it is debit note {debit.number} on bill {bill.number}. "
        f"The invoice now asks {format_money(invoice.net_total, invoice.currency)} in all."
    )


def _tell(
    po: PurchaseOrder, ret: ReturnRequest, invoice: Invoice, bill: Bill, credit: CreditNote, debit: DebitNote
) -> None:
    """The supplier's receivables (and sales) hear of the credit note, the customer's payables and
    the order's requester of the debit note, once each (the outbox keys are the notes')."""
    require_atomic()
    context = {"po": po, "ret": ret, "invoice": invoice, "bill": bill, "credit_note": credit, "debit_note": debit}
    queue_email(
        key=f"credit_note_issued:{credit.pk}",
        to=emails_of(po.supplier, "receivables", "sales"),
        template="credit_note_issued",
        organization=po.supplier,
        attachments=[{"renderer": "credit_note_pdf", "pk": credit.pk}],
        context={**context, "url": _credit_note_url(credit), "invoice_url": _invoice_url(invoice)},
    )
    queue_email(
        key=f"debit_note_received:{debit.pk}",
        to=[po.requester.email, *emails_of(po.customer, "payables")],
        template="debit_note_received",
        organization=po.customer,
        attachments=[{"renderer": "debit_note_pdf", "pk": debit.pk}],
        context={**context, "owes": owes_words(bill), "url": _debit_note_url(debit), "bill_url": _bill_url(bill)},
    )
