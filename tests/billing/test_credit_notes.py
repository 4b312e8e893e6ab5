"""Credit and debit notes of returns (SPEC §6, "Returns and credit notes"): made together, once,
to the cent in JPY, USD and KWD (tax, a header discount, credits in pieces adding up to the line);
what the bill and the invoice ask afterwards, before and after payment; the refusals; the task and
its sweep; the thread, the e-mails and their PDFs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.mail import render_attachment
from accounts.models import OutboundEmail
from billing.models import Bill, CreditNote, CreditNoteLine, DebitNote, DebitNoteLine, FxDifference, Invoice
from billing.services import credits
from billing.services.documents import issue_documents
from billing.services.payments import record_payment, verify_payment
from billing.tasks import issue_credit_notes as issue_task
from billing.tasks import issue_missing_credit_notes
from orders import interfaces
from orders.models import OrderEvent, ReturnRequest
from procurement.errors import DomainError
from tests.billing.returnkit import arrived_back, confirmed, receive_all, trade_in

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate
D = Decimal

# Two lines and a header discount, per currency, and the three credits that give everything back:
# 3 then 4 units of line 1 (all of it), then line 2. Worked by hand: each credit of q units after
# p is line_amounts(p + q) − line_amounts(p); the discount's share is rounded cumulatively.
CASES = {
    "JPY": {
        "lines": [("333", "10"), ("1999", "8")],
        "discount": "500",
        "invoice": (D("8328"), D("500"), D("713"), D("8541")),
        # (subtotal, discount, tax, total) of each credit note
        "credits": [
            (D("999"), D("60"), D("100"), D("1039")),
            (D("1332"), D("80"), D("133"), D("1385")),
            (D("5997"), D("360"), D("480"), D("6117")),
        ],
    },
    "USD": {
        "lines": [("3.33", "7.5"), ("19.99", "20")],
        "discount": "5.00",
        "invoice": (D("83.28"), D("5.00"), D("13.74"), D("92.02")),
        "credits": [
            (D("9.99"), D("0.60"), D("0.75"), D("10.14")),
            (D("13.32"), D("0.80"), D("1.00"), D("13.52")),
            (D("59.97"), D("3.60"), D("11.99"), D("68.36")),
        ],
    },
    "KWD": {
        "lines": [("3.333", "5"), ("19.999", "15")],
        "discount": "5.000",
        "invoice": (D("83.328"), D("5.000"), D("10.167"), D("88.495")),
        "credits": [
            (D("9.999"), D("0.600"), D("0.500"), D("9.899")),
            (D("13.332"), D("0.800"), D("0.667"), D("13.199")),
            (D("59.997"), D("3.600"), D("9.000"), D("65.397")),
        ],
    },
}


def _order(currency: str):
    case = CASES[currency]
    trade = trade_in(currency)
    (price1, tax1), (price2, tax2) = case["lines"]
    po = confirmed(
        trade,
        [
            {"description": "Goggles", "quantity": "7", "unit_price": price1, "tax_rate": tax1},
            {"description": "Helmet", "quantity": "3", "unit_price": price2, "tax_rate": tax2},
        ],
        discount=case["discount"],
    )
    receive_all(trade, po)
    return trade, po


def _amounts(note) -> tuple:
    return (note.subtotal, note.discount, note.tax_total, note.total)


@pytest.mark.parametrize("currency", ["JPY", "USD", "KWD"])
def test_credit_and_debit_notes_are_exact_to_the_minor_unit(currency):
    case = CASES[currency]
    trade, po = _order(currency)
    assert not Invoice.objects.filter(purchase_order=po).exists()  # the documents' task has not run
    made = []
    for quantities in ({1: "3"}, {1: "4"}, {2: "3"}):
        made.append(credits.issue_credit_notes(return_request=arrived_back(po, quantities)))
    invoice = Invoice.objects.get(purchase_order=po)  # made first, by the first credit
    bill = Bill.objects.get(purchase_order=po)
    assert (invoice.subtotal, invoice.discount, invoice.tax_total, invoice.total) == case["invoice"]
    for (credit, debit), expected in zip(made, case["credits"], strict=True):
        assert _amounts(credit) == _amounts(debit) == expected
        assert credit.currency == debit.currency == currency
        assert (credit.invoice, debit.bill, debit.credit_note) == (invoice, bill, credit)
        assert debit.supplier_reference == credit.number
        assert [(line.quantity, line.line_total, line.tax_amount) for line in credit.lines.all()] == [
            (line.quantity, line.line_total, line.tax_amount) for line in debit.lines.all()
        ]
    assert [c.number for c, _ in made] == ["CN-000001", "CN-000002", "CN-000003"]
    assert [d.number for _, d in made] == ["DN-000001", "DN-000002", "DN-000003"]
    # Line 1 credited in two pieces adds up to the line exactly, tax included.
    line1 = po.lines.get(position=1)
    pieces = CreditNoteLine.objects.filter(po_line=line1)
    assert sum(p.line_total for p in pieces) == line1.line_total
    assert sum(p.tax_amount for p in pieces) == line1.tax_amount
    assert sum(p.quantity for p in pieces) == line1.quantity
    # Everything credited: the notes add up to the invoice, the bill asks nothing.
    assert sum(c.total for c, _ in made) == invoice.total
    assert sum(c.discount for c, _ in made) == invoice.discount
    assert invoice.credited_total == bill.credited_total == invoice.total
    assert (invoice.net_total, bill.net_total, bill.outstanding) == (0, 0, 0)
    assert (bill.status, invoice.status) == ("verified", "paid")


def test_a_credit_note_says_what_it_credits_and_both_sides_hear_of_it(trade):
    po = confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])
    ret = arrived_back(po, {1: "2"})
    credit, debit = credits.issue_credit_notes(return_request=ret)
    line = credit.lines.get()
    assert (line.position, line.description, line.quantity, line.unit, line.unit_price, line.tax_rate) == (
        1,
        "Goggles",
        2,
        "ea",
        D("2.50"),
        10,
    )
    assert (line.line_total, line.tax_amount, credit.total) == (D("5.00"), D("0.50"), D("5.50"))
    assert (credit.supplier, credit.customer, debit.customer, debit.supplier) == (
        trade.supplier,
        trade.customer,
        trade.customer,
        trade.supplier,
    )
    assert credit.purchase_order == debit.purchase_order == po and credit.note_date == TODAY()
    event = po.events.get(kind=OrderEvent.Kind.CREDITED)
    assert event.body == (
        f"Credit note CN-000001 issued for 5.50 USD against invoice INV-000001, for {ret.label}; it is "
        "debit note DN-000001 on bill BILL-000001. The invoice now asks 22.00 USD in all."
    )
    assert event.data == {"return": ret.pk, "credit_note": credit.pk, "debit_note": debit.pk}
    to_supplier = OutboundEmail.objects.get(key=f"credit_note_issued:{credit.pk}")
    assert to_supplier.subject == f"Credit note CN-000001 to {trade.customer.name} (5.50 USD)"
    assert trade.receivables.user.email in to_supplier.to and trade.sales.user.email in to_supplier.to
    assert f"/o/{trade.supplier.slug}/credit-notes/CN-000001/" in to_supplier.body_text
    assert "invoice INV-000001, which now asks 22.00 USD" in to_supplier.body_text
    assert to_supplier.attachments == [{"renderer": "credit_note_pdf", "pk": credit.pk}]
    to_customer = OutboundEmail.objects.get(key=f"debit_note_received:{debit.pk}")
    assert to_customer.subject == f"Debit note DN-000001 from {trade.supplier.name} (5.50 USD)"
    assert trade.payables.user.email in to_customer.to and trade.buyer.user.email in to_customer.to
    assert f"/o/{trade.customer.slug}/debit-notes/DN-000001/" in to_customer.body_text
    assert "Bill BILL-000001 now asks 22.00 USD." in to_customer.body_text
    assert "Bill BILL-000001 now asks 22.00 USD." in to_customer.body_html
    for email, name in ((to_supplier, "CN-000001.pdf"), (to_customer, "DN-000001.pdf")):
        filename, content, mime = render_attachment(email.attachments[0])
        assert (filename, mime) == (name, "application/pdf") and content.startswith(b"%PDF")


def _usd_order(trade):
    """27.50 USD: 10 × 2.50 + 10 % tax; received in full."""
    po = confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])
    issue_documents(po=po)
    return po, Bill.objects.get(purchase_order=po), Invoice.objects.get(purchase_order=po)


def _pay(trade, bill, amount):
    return record_payment(bill=bill, by=trade.payables, amount=D(amount), paid_on=TODAY(), method="bank_transfer")


def _reload(*objects):
    return [type(o).objects.get(pk=o.pk) for o in objects]


def test_open_then_credit_then_partly_paid_then_paid_then_verified(trade):
    po, bill, invoice = _usd_order(trade)
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))  # 5.50
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, bill.credited_total, bill.net_total, bill.outstanding) == ("open", D("5.5"), 22, 22)
    assert (invoice.status, invoice.credited_total, invoice.net_total) == ("open", D("5.5"), 22)
    first = _pay(trade, bill, "10")
    bill = Bill.objects.get(pk=bill.pk)
    assert (bill.status, bill.outstanding) == ("partially_paid", 12)
    with pytest.raises(DomainError) as refused:
        _pay(trade, bill, "12.01")
    assert refused.value.message == (
        "At most 12.00 USD is outstanding on this bill (after 5.50 USD of returns credited)."
    )
    second = _pay(trade, bill, "12")
    bill = Bill.objects.get(pk=bill.pk)
    assert (bill.status, bill.outstanding, bill.balance_in_favour) == ("paid", 0, 0)
    verify_payment(payment=first, by=trade.receivables, amount_received=D("10"))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, invoice.status) == ("paid", "open")
    verify_payment(payment=second, by=trade.receivables, amount_received=D("12"))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, invoice.status) == ("verified", "paid")  # 22.00 verified covers what it asks now


def test_a_credit_after_the_bill_was_paid_is_a_balance_in_the_customers_favour(trade):
    po, bill, invoice = _usd_order(trade)
    payment = _pay(trade, bill, "27.50")
    verify_payment(payment=payment, by=trade.receivables, amount_received=D("27.50"))
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, bill.outstanding, bill.balance_in_favour) == ("verified", 0, D("5.5"))
    assert (invoice.status, invoice.net_total) == ("paid", 22)
    assert credits.owes_words(bill) == (  # what the debit note's e-mail tells the customer
        f"Bill {bill.number} was paid 5.50 USD beyond what it asks now: a balance in favour of {trade.customer.name}."
    )


def test_a_credit_that_covers_what_is_left_settles_the_bill_and_the_invoice_once_verified(trade):
    po, bill, invoice = _usd_order(trade)
    payment = _pay(trade, bill, "22")
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, bill.outstanding, invoice.status) == ("paid", 0, "open")
    assert credits.owes_words(bill) == f"Bill {bill.number} is settled: nothing is left to pay."
    with pytest.raises(DomainError, match="This bill is paid: nothing is left to pay."):
        _pay(trade, bill, "0.01")
    verify_payment(payment=payment, by=trade.receivables, amount_received=D("22"))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, invoice.status) == ("verified", "paid")


def test_a_credit_after_verified_payments_of_the_rest_marks_the_invoice_paid(trade):
    po, bill, invoice = _usd_order(trade)
    payment = _pay(trade, bill, "22")
    verify_payment(payment=payment, by=trade.receivables, amount_received=D("22"))
    assert _reload(invoice)[0].status == "open"
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, invoice.status) == ("verified", "paid")


def test_a_second_run_finds_the_pair_and_writes_nothing(trade, django_capture_on_commit_callbacks):
    po, bill, _ = _usd_order(trade)
    ret = arrived_back(po, {1: "2"})
    with django_capture_on_commit_callbacks(execute=True):
        first = credits.issue_credit_notes(return_request=ret)
    events, emails = OrderEvent.objects.count(), OutboundEmail.objects.count()
    assert credits.issue_credit_notes(return_request=ret) == first
    assert issue_task.apply(args=[ret.pk]).get() == "CN-000001 / DN-000001"
    assert (CreditNote.objects.count(), DebitNote.objects.count()) == (1, 1)
    assert (CreditNoteLine.objects.count(), DebitNoteLine.objects.count()) == (1, 1)
    assert (OrderEvent.objects.count(), OutboundEmail.objects.count()) == (events, emails)
    assert OutboundEmail.objects.filter(key__startswith="credit_note_issued:").count() == 1
    assert OutboundEmail.objects.filter(key__startswith="debit_note_received:").count() == 1
    assert Bill.objects.get(pk=bill.pk).credited_total == D("5.5")  # counted once
    with pytest.raises(IntegrityError), transaction.atomic():  # the constraint: one pair per return
        CreditNote.objects.create(
            number="CN-X",
            purchase_order=po,
            return_request=ret,
            note_date=TODAY(),
            currency="USD",
            supplier=po.supplier,
            customer=po.customer,
            invoice=first[0].invoice,
        )


def _nothing_written(before: dict) -> None:
    assert _counts() == before


def _counts() -> dict:
    return {
        "credit": CreditNote.objects.count(),
        "debit": DebitNote.objects.count(),
        "events": OrderEvent.objects.filter(kind=OrderEvent.Kind.CREDITED).count(),
        "emails": OutboundEmail.objects.count(),
        "credited": list(Bill.objects.values_list("credited_total", flat=True)),
        "invoice_credited": list(Invoice.objects.values_list("credited_total", flat=True)),
    }


@pytest.mark.parametrize(
    "kind",
    ["shipped back, not arrived", "withdrawn", "declined", "for a replacement", "nothing credited"],
)
def test_nothing_is_credited_until_a_return_for_credit_arrived_back_with_something_credited(trade, kind):
    po, _, _ = _usd_order(trade)
    if kind == "for a replacement":
        ret = arrived_back(po, {1: "2"}, resolution=ReturnRequest.Resolution.REPLACEMENT)
    elif kind == "nothing credited":
        ret = arrived_back(po, {1: "2"}, credited=False)
    else:
        status = {"shipped back, not arrived": "shipped", "withdrawn": "withdrawn", "declined": "declined"}[kind]
        ret = arrived_back(po, {1: "2"}, status=status)
    before = _counts()
    assert credits.issue_credit_notes(return_request=ret) is None
    assert issue_task.apply(args=[ret.pk]).get() == "nothing to credit"
    _nothing_written(before)


def test_a_credit_beyond_what_was_invoiced_is_refused_and_writes_nothing(trade):
    po = confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "8"}))
    ret = arrived_back(po, {1: "3"})  # 11 of the 10 invoiced
    before = _counts()
    with pytest.raises(DomainError) as refused:
        credits.issue_credit_notes(return_request=ret)
    assert refused.value.message == "Line 1: 11 ea credited in all would be more than the 10 ea invoiced."
    _nothing_written(before)


def test_the_documents_made_for_a_credit_go_when_it_is_refused(trade):
    po = confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])
    ret = arrived_back(po, {1: "11"})
    with pytest.raises(DomainError, match="11 ea credited in all would be more than the 10 ea invoiced"):
        credits.issue_credit_notes(return_request=ret)
    assert not Invoice.objects.exists() and not Bill.objects.exists()  # all or nothing


def test_a_cancelled_bill_is_left_as_it_is_while_the_invoice_is_credited(trade):
    from billing.services.bills import cancel_bill

    po, bill, invoice = _usd_order(trade)
    cancel_bill(bill=bill, by=trade.payables, reason="Billed by hand instead")
    credit, debit = credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    bill, invoice = _reload(bill, invoice)
    assert (bill.status, bill.credited_total) == ("cancelled", 0)
    assert (debit.bill, debit.total, invoice.credited_total, invoice.status) == (bill, D("5.5"), D("5.5"), "open")
    assert credits.owes_words(bill) == f"Bill {bill.number} is cancelled: it is left as it is."


def test_an_amended_total_may_not_fall_below_what_was_paid_and_credited(trade):
    po, bill, _ = _usd_order(trade)
    _pay(trade, bill, "10")
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))  # 5.50
    gate = interfaces.billing()
    with pytest.raises(DomainError) as refused:
        gate.check_total(po=po, total=D("15.49"))
    assert refused.value.message == (
        f"10.00 USD has been paid and 5.50 USD credited for returns on {bill.number} already: the amended "
        "total 15.49 USD cannot be less."
    )
    gate.check_total(po=po, total=D("15.50"))  # exactly what is paid and credited: allowed


def test_the_interface_queues_the_task_and_answers_the_notes_of_an_order(trade, django_capture_on_commit_callbacks):
    po, _, _ = _usd_order(trade)
    ret = arrived_back(po, {1: "2"})
    gate = interfaces.billing()
    assert gate.return_notes(po=po, side="supplier") == {} == gate.return_notes(po=po, side="customer")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        gate.credit_return_after_commit(po=po, return_request=ret)
    assert len(callbacks) >= 1
    credit = CreditNote.objects.get(return_request=ret)
    assert gate.return_notes(po=po, side="supplier") == {ret.pk: credit}
    assert gate.return_notes(po=po, side="customer") == {ret.pk: credit.debit_note}
    with pytest.raises(ValueError):
        gate.return_notes(po=po, side="both")


def test_returns_whose_task_never_ran_are_caught_up(trade, django_capture_on_commit_callbacks):
    po, _, _ = _usd_order(trade)
    ret = arrived_back(po, {1: "2"})
    arrived_back(po, {1: "1"}, resolution=ReturnRequest.Resolution.REPLACEMENT)  # nothing to credit
    assert issue_missing_credit_notes.apply().get() == 0  # too recent: its task may be on its way
    ReturnRequest.objects.update(received_at=timezone.now() - timedelta(minutes=6))
    with django_capture_on_commit_callbacks(execute=True):
        assert issue_missing_credit_notes.apply().get() == 1
    assert CreditNote.objects.filter(return_request=ret).exists()
    assert issue_missing_credit_notes.apply().get() == 0


def test_a_credit_may_complete_the_order(trade):
    """Everything received and paid but two units: they go back for credit, and the order closes."""
    po, bill, _ = _usd_order(trade)
    receive_all(trade, po)
    payment = _pay(trade, bill, "22")
    verify_payment(payment=payment, by=trade.receivables, amount_received=D("22"))
    po.refresh_from_db()
    assert po.status == "received"
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    po.refresh_from_db()
    assert po.status == "closed"


def test_a_credit_in_a_foreign_currency_makes_no_fx_figure_and_is_explained_on_the_bill(client):
    from billing import selectors
    from tests.billing.fxkit import days_ago, fx_trade, set_rate

    trade = fx_trade("EUR", "USD")
    set_rate(trade.customer, days_ago(5), "EUR", "USD", "1.1")
    po = confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])
    receive_all(trade, po)
    issue_documents(po=po)
    figures = FxDifference.objects.count()
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))  # 5.50 EUR
    assert FxDifference.objects.count() == figures  # no figure of its own
    bill = Bill.objects.select_related("customer").get(purchase_order=po)
    fx = selectors.bill_fx(bill, payments=[])
    day = TODAY()
    assert fx.returns == (
        f"Returns of 5.50 EUR are valued like the invoice they reduce, at the rate of the bill date "
        f"({day.day} {day:%b %Y}): 1 EUR = 1.10 USD, so 6.05 USD; they make no FX gain or loss of their own."
    )
    client.force_login(trade.payables.user)
    page = client.get(f"/o/{trade.customer.slug}/bills/{bill.number}/").content.decode()
    assert "Returns of 5.50 EUR are valued like the invoice they reduce" in page


def test_the_three_way_match_counts_what_is_credited_and_what_is_kept(trade):
    """Billed net of the credit notes against what is kept: 2 of 10 sent back for credit match; 2
    sent back for a replacement are billed and not kept (awaited while the order receives again)."""
    from billing import selectors
    from orders.models import PurchaseOrder

    po, bill, _ = _usd_order(trade)
    receive_all(trade, po)
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "2"}))
    bill = Bill.objects.select_related("purchase_order").get(pk=bill.pk)
    result = selectors.three_way(bill)
    assert (result.badge, result.lines[0].reasons) == (
        "matched",
        ["Quantity and price as ordered; everything billed is received (2 ea returned and credited)."],
    )
    arrived_back(po, {1: "3"}, resolution=ReturnRequest.Resolution.REPLACEMENT)
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseOrder.Status.PARTIALLY_RECEIVED)
    bill = Bill.objects.select_related("purchase_order").get(pk=bill.pk)
    result = selectors.three_way(bill)
    assert (result.badge, result.lines[0].reasons) == (
        "awaiting_receipt",
        ["Billed 8 ea after 2 ea credited, kept 5 ea: awaiting receipt of 3 ea."],
    )
