"""Input a security probe sent to the billing pages: dates in a sensible window, amounts of
ASCII digits within the column, and a proof of payment whose file name is not UTF-8 kept under
a safe name instead of dropped."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeRate
from billing import fx
from billing.models import Bill, Payment
from billing.services.bills import create_bill
from billing.services.documents import issue_documents
from billing.services.payments import record_payment
from procurement.errors import DomainError
from procurement.hygiene import PartHeadersAsText
from tests.factories import OrganizationFactory, bill_line

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate
BOUNDARY = "tandem-probe-7MA4YWxkTrZu0gW"
PDF = b"%PDF-1.4\n%probe\n" + b"0" * 2000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def url(name, org, **kwargs):
    return reverse(f"billing:{name}", kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def bill(trade):
    po = trade.confirmed()
    issue_documents(po=po)
    return Bill.objects.get(purchase_order=po)


def multipart(fields: dict[str, str], filename: bytes, content: bytes, content_type: bytes) -> bytes:
    """A multipart body written byte by byte: the test client's encoder cannot put bytes that
    are not UTF-8 into a file name."""
    body = b""
    for name, value in fields.items():
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: '
        + content_type
        + b"\r\n\r\n"
        + content
        + b"\r\n"
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def pay(client, trade, bill, filename: bytes, content=PDF, content_type=b"application/pdf", **extra):
    fields = {"amount": "5", "paid_on": str(TODAY()), "method": "bank_transfer", "reference": "TRF-1", **extra}
    return client.post(
        url("bill-pay", trade.customer, number=bill.number),
        data=multipart(fields, filename, content, content_type),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


# ------------------------------------------------------------------------ undecodable names


def test_a_proof_whose_name_is_not_utf8_is_kept_under_a_safe_name(client, trade, bill):
    client.force_login(trade.payables.user)
    response = pay(client, trade, bill, b"\xff\xfe.pdf")
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert payment.attachment_name == "proof-of-payment.pdf"
    stored = payment.attachment.name
    assert stored.isascii() and stored.endswith(".pdf") and "proof-of-payment" in stored
    download = client.get(url("payment-attachment", trade.customer, pk=payment.pk))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert 'filename="proof-of-payment.pdf"' in download["Content-Disposition"]


def test_without_an_allowed_extension_the_safe_name_takes_the_files_kind(client, trade, bill):
    client.force_login(trade.payables.user)
    assert pay(client, trade, bill, b"\xff\xfe", content=PNG, content_type=b"image/png").status_code == 302
    assert Payment.objects.get().attachment_name == "proof-of-payment.png"


def test_an_unreadable_name_of_a_file_that_is_no_proof_is_refused_next_to_the_field(client, trade, bill):
    client.force_login(trade.payables.user)
    response = pay(client, trade, bill, b"\xff\xfe.exe", content=b"MZ\x90\x00", content_type=b"application/x-msdos")
    assert response.status_code == 400
    assert response.context["payment_form"].errors["attachment"] == ["Attach a PDF, PNG or JPEG file."]
    assert not Payment.objects.exists()


def test_a_readable_name_is_kept_as_it_is(client, trade, bill):
    client.force_login(trade.payables.user)
    assert pay(client, trade, bill, "Überweisung März.pdf".encode()).status_code == 302
    assert Payment.objects.get().attachment_name == "Überweisung März.pdf"


def test_the_proof_is_kept_with_csrf_checked_as_in_production(trade, bill):
    """CsrfViewMiddleware reads request.POST before the view: the name is made readable before."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(trade.payables.user)
    client.get(url("bill-detail", trade.customer, number=bill.number))
    token = client.cookies["csrftoken"].value
    response = pay(client, trade, bill, b"\xff\xfe.pdf", csrfmiddlewaretoken=token)
    assert response.status_code == 302
    assert Payment.objects.get().attachment_name == "proof-of-payment.pdf"


class Trickle(io.BytesIO):
    """A stream that hands out a few bytes at a time, so that delimiters straddle reads."""

    def read(self, size=-1):
        return super().read(min(size, 5) if size and size > 0 else 5)


def test_part_headers_are_made_readable_and_nothing_else_changes():
    body = multipart({"amount": "5"}, b"\xff\xfe.pdf", b"\xff\xfe binary \r\n\r\n stays", b"application/pdf")
    read = PartHeadersAsText(Trickle(body), BOUNDARY.encode())
    out = b"".join(iter(lambda: read.read(7), b""))
    assert out == body.replace(b'filename="\xff\xfe.pdf"', 'filename="\ufffd\ufffd.pdf"'.encode())
    assert PartHeadersAsText(io.BytesIO(body), BOUNDARY.encode()).read() == out


# ------------------------------------------------------------------------------ dates


@pytest.mark.parametrize("paid_on", ["0001-01-01", "1999-12-31"])
def test_a_payment_date_outside_the_window_is_refused_next_to_the_field(client, trade, bill, paid_on):
    client.force_login(trade.payables.user)
    response = client.post(
        url("bill-pay", trade.customer, number=bill.number),
        {"amount": "5", "paid_on": paid_on, "method": "bank_transfer"},
    )
    assert response.status_code == 400
    assert "Enter a date from 1 Jan 2000" in response.context["payment_form"].errors["paid_on"][0]
    assert f'value="{paid_on}"' in response.content.decode()
    assert not Payment.objects.exists()


def test_the_payment_service_refuses_such_dates_too(trade, bill):
    for day in (date(1, 1, 1), date(9999, 12, 31)):
        with pytest.raises(DomainError) as exc:
            record_payment(bill=bill, by=trade.payables, amount=Decimal("5"), paid_on=day, method="cheque")
        assert exc.value.field == "paid_on"
    assert not Payment.objects.exists()


def test_bill_dates_outside_the_window_are_refused_next_to_each_field(client, trade):
    client.force_login(trade.payables.user)
    response = client.post(
        url("bill-new", trade.customer),
        {
            "supplier": trade.supplier.pk,
            "currency": "USD",
            "bill_date": "0001-01-01",
            "due_date": "9999-12-31",
            "rows": "1",
            "line-0-description": "Freight",
            "line-0-quantity": "1",
            "line-0-unit": "ea",
            "line-0-unit_price": "40",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Enter a date from" in errors["bill_date"][0] and "Enter a date from" in errors["due_date"][0]
    assert not Bill.objects.exists()


def test_the_bill_service_refuses_a_due_date_a_millennium_away(trade):
    with pytest.raises(DomainError) as exc:
        create_bill(
            by=trade.payables,
            supplier=trade.supplier,
            currency="USD",
            bill_date=TODAY(),
            due_date=date(9999, 12, 31),
            lines=[bill_line(description="Freight", quantity="1", unit_price="40")],
        )
    assert exc.value.field == "due_date" and not Bill.objects.exists()


def test_an_exchange_rate_import_refuses_dates_outside_the_window():
    org = OrganizationFactory()
    data = "date,from,to,rate\n0001-01-01,EUR,USD,1.08\n9999-12-31,EUR,USD,1.08\n٢٠٢٦-١١-١٢,EUR,USD,1.08\n"
    with pytest.raises(fx.RateImportError) as error:
        fx.import_exchange_rates(organization=org, data=data.encode())
    assert error.value.errors[0].startswith("Row 2: the date 0001-01-01 is out of range. Enter a date from")
    assert error.value.errors[1].startswith("Row 3: the date 9999-12-31 is out of range.")
    assert error.value.errors[2].startswith("Row 4: “٢٠٢٦-١١-١٢” is not a date")
    assert not ExchangeRate.objects.exists()


# ---------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("amount", ["٥", "+5", "５"])
def test_a_payment_amount_in_other_digits_or_with_a_plus_is_refused(client, trade, bill, amount):
    client.force_login(trade.payables.user)
    response = client.post(
        url("bill-pay", trade.customer, number=bill.number),
        {"amount": amount, "paid_on": str(TODAY()), "method": "bank_transfer"},
    )
    assert response.status_code == 400
    assert response.context["payment_form"].errors["amount"]
    assert not Payment.objects.exists()


def test_a_bill_line_no_column_holds_is_refused_next_to_its_quantity(trade):
    with pytest.raises(DomainError, match="The line's amount would be more than") as exc:
        create_bill(
            by=trade.payables,
            supplier=trade.supplier,
            currency="USD",
            bill_date=TODAY(),
            due_date=TODAY() + timedelta(days=30),
            lines=[bill_line(description="Gold", quantity="999999999", unit_price="1000000")],
        )
    assert (exc.value.line, exc.value.field) == (0, "quantity") and not Bill.objects.exists()


def test_a_bill_total_no_column_holds_is_refused(trade):
    line = bill_line(description="Gold", quantity="1", unit_price="60000000000000")
    with pytest.raises(DomainError, match="The bill's total would be more than"):
        create_bill(
            by=trade.payables,
            supplier=trade.supplier,
            currency="USD",
            bill_date=TODAY(),
            due_date=TODAY() + timedelta(days=30),
            lines=[line, line],
        )
    assert not Bill.objects.exists()
