"""Tenant isolation, walked over every URL pattern of the project.

For every pattern under ``/o/<org_slug>/`` a member of organization A asks for objects of
organization B — through A's slug (the object is not A's) and through B's slug (A is not a
member) — by GET and by POST: each answers 404 and no row of any table changes. A pattern
with no sample value below fails this test, so new pages cannot skip it. Anonymous requests
to every non-public page redirect to log-in.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from anymail import urls as anymail_urls
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import MemberInvitation
from accounts.roles import Role
from tests.factories import (
    ApprovalPolicyFactory,
    ConnectionFactory,
    ListingFactory,
    LocationFactory,
    OrganizationFactory,
    SupplierFactory,
    member,
)

PUBLIC = {
    "healthz",
    "readyz",
    "accounts:login",
    "accounts:logout",
    "accounts:signup",
    "accounts:password-reset",
    "accounts:password-reset-done",
    "accounts:password-reset-confirm",
    "accounts:password-reset-complete",
    "accounts:member-invitation",
    "accounts:connection-invitation",
    # The ESPs' webhooks: anymail checks the basic-auth WEBHOOK_SECRET (tests/accounts/test_email_suppression.py).
    *(f"anymail:{pattern.name}" for pattern in anymail_urls.urlpatterns),
}
PROJECT_APPS = ("accounts", "orders", "billing", "approvals", "guardian", "auth")


def walk(patterns=None, prefix="", namespace=""):
    """(name, route, parameter names) for every named pattern, the admin's aside."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # the Django admin's isolation is tested with the admin itself
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", route, tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))


ALL_PATTERNS = sorted(set(walk()))


@pytest.fixture
def world(db):
    """Organization A (the attacker's), and B with one object of every kind."""
    a = OrganizationFactory(
        buys=True,
        sells=True,
        po_prefix="APO",
        so_prefix="ASO",
        invoice_prefix="AINV",
        bill_prefix="ABILL",
        credit_note_prefix="ACN",
        debit_note_prefix="ADN",
    )  # no number shared with B
    attacker = member(a, Role.ADMIN)
    b = OrganizationFactory(buys=True, sells=True)
    b_admin = member(b, Role.ADMIN)
    c = SupplierFactory()
    connection = ConnectionFactory(customer=b, supplier=c)
    invitation = MemberInvitation.objects.create(
        organization=b,
        email="someone@b.example",
        roles=["buyer"],
        token_hash="x" * 64,
        expires_at="2099-01-01T00:00Z",
    )
    # B buys from C (a sent order) and sells to D (a sales order); A has a draft of its own.
    from orders.services import amendments, drafts, fulfilment, negotiation, submission
    from tests.factories import CostCenterFactory, bill_line, line_input

    b_buyer = member(b, Role.BUYER)
    cc = CostCenterFactory(organization=b)
    b_po = drafts.create_purchase_order(by=b_buyer, connection=connection)
    b_line = drafts.add_line(
        by=b_buyer,
        po=b_po,
        values=line_input(description="X", quantity="1", unit="ea", unit_price="1", cost_center=cc),
    )
    submission.submit_purchase_order(po=b_po, by=b_buyer)
    # B's order from C is confirmed and invoiced: a return of it is credited (B's debit note).
    b_po3 = drafts.create_purchase_order(by=b_buyer, connection=connection)
    drafts.add_line(
        by=b_buyer,
        po=b_po3,
        values=line_input(description="W", quantity="2", unit="ea", unit_price="1", cost_center=cc),
    )
    submission.submit_purchase_order(po=b_po3, by=b_buyer)
    negotiation.accept_sales_order(so=b_po3.sales_order, by=member(c, Role.ADMIN))
    negotiation.confirm_purchase_order(po=b_po3, by=b_buyer)
    d = OrganizationFactory(buys=True)
    d_po = drafts.create_purchase_order(by=member(d, Role.BUYER), connection=ConnectionFactory(customer=d, supplier=b))
    drafts.add_line(
        by=d_po.requester.memberships.get(organization=d),
        po=d_po,
        values=line_input(
            description="Y", quantity="1", unit="ea", unit_price="1", cost_center=CostCenterFactory(organization=d)
        ),
    )
    submission.submit_purchase_order(po=d_po, by=d_po.requester.memberships.get(organization=d))
    b_so = d_po.sales_order
    # B's sales order is confirmed and part-shipped: its shipment and receipt pages are live.
    negotiation.accept_sales_order(so=b_so, by=b_admin)
    negotiation.confirm_purchase_order(po=d_po, by=d_po.requester.memberships.get(organization=d))
    fulfilment.record_shipment(
        so=b_so, by=b_admin, lines={d_po.lines.get().pk: Decimal("1")}, shipped_on=timezone.localdate()
    )
    a_po = drafts.create_purchase_order(
        by=attacker, connection=ConnectionFactory(customer=a, supplier=SupplierFactory())
    )
    # Returns on both sides of B: B sends back goods of an order C filled (B's purchase order), and
    # D sends back what B shipped (B's sales order); each return with a photo.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from orders.services import returns
    from tests.factories import receipt_line

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    b_receiver = member(b, Role.RECEIVER)
    b_returned = drafts.create_purchase_order(by=b_buyer, connection=connection)
    b_returned_line = drafts.add_line(
        by=b_buyer,
        po=b_returned,
        values=line_input(description="W", quantity="2", unit="ea", unit_price="1", cost_center=cc),
    )
    submission.submit_purchase_order(po=b_returned, by=b_buyer)
    negotiation.accept_sales_order(so=b_returned.sales_order, by=member(c, Role.SALES))
    negotiation.confirm_purchase_order(po=b_returned, by=b_buyer)
    fulfilment.record_shipment(
        so=b_returned.sales_order,
        by=member(c, Role.FULFILMENT),
        lines={b_returned_line.pk: Decimal("2")},
        shipped_on=timezone.localdate(),
    )
    fulfilment.record_receipt(
        po=b_returned,
        by=b_receiver,
        lines={b_returned_line.pk: receipt_line(quantity="2")},
        received_on=timezone.localdate(),
    )
    b_return = returns.request_return(
        po=b_returned,
        by=b_receiver,
        lines={b_returned_line.pk: Decimal("1")},
        reason="damaged",
        resolution="credit",
        attachments=[SimpleUploadedFile("b.png", png, content_type="image/png")],
    )
    # B approves its orders: a second order of B waits for B's admin.
    ApprovalPolicyFactory(organization=b, steps=[{"name": "Anyone", "approver_role": "admin"}])
    b_po2 = drafts.create_purchase_order(by=b_buyer, connection=connection)
    drafts.add_line(
        by=b_buyer,
        po=b_po2,
        values=line_input(description="Z", quantity="1", unit="ea", unit_price="5", cost_center=cc),
    )
    submission.submit_purchase_order(po=b_po2, by=b_buyer)
    b_request = {"pk": b_po2.approval_requests.get().pk}
    # Money: B invoices D (D pays, waiting for B's verification); B enters a bill from C by hand,
    # matched to its order; B overrides its tolerances for C; A has a bill of its own.
    from accounts import services as account_services
    from billing.services.bills import create_bill
    from billing.services.documents import issue_documents
    from billing.services.payments import record_payment

    today = timezone.localdate()
    invoice, d_bill = issue_documents(po=d_po)
    d_payment = record_payment(
        bill=d_bill, by=member(d, Role.PAYABLES), amount=Decimal("1"), paid_on=today, method="bank_transfer"
    )
    hand = {"currency": "USD", "bill_date": today, "due_date": today}
    b_bill = create_bill(
        by=b_admin, supplier=c, lines=[bill_line(description="Paper invoice", quantity="1", unit_price="1")], **hand
    )
    from billing.models import BillMatch  # (matching needs a confirmed order: a row is enough here)

    b_match = BillMatch.objects.create(bill=b_bill, purchase_order=b_po, amount=1, matched_by=b_admin.user)
    a_bill = create_bill(
        by=attacker, supplier=a_po.supplier, lines=[bill_line(description="A's", quantity="1", unit_price="1")], **hand
    )
    override = account_services.set_supplier_tolerance(by=b_admin, supplier=c, reason="Drums")
    # D asks B to amend its confirmed order (B's sales order): B's amendment pages are live.
    d_amendment = amendments.request_amendment(
        po=d_po,
        by=d_po.requester.memberships.get(organization=d),
        reason="More",
        quantities={d_po.lines.get().pk: Decimal("2")},
    )
    # D received what B shipped, and asks B to take one back.
    d_receiver = member(d, Role.RECEIVER)
    fulfilment.record_receipt(
        po=d_po,
        by=d_receiver,
        lines={d_po.lines.get().pk: receipt_line(quantity="1")},
        received_on=timezone.localdate(),
    )
    d_return = returns.request_return(
        po=d_po,
        by=d_receiver,
        lines={d_po.lines.get().pk: Decimal("1")},
        reason="wrong_item",
        resolution="credit",
        attachments=[SimpleUploadedFile("d.png", png, content_type="image/png")],
    )
    # Returns credited: one of D's order from B (B's credit note), one of B's order from C (B's debit note).
    from billing.services.credits import issue_credit_notes
    from tests.billing.returnkit import arrived_back

    b_credit, _ = issue_credit_notes(return_request=arrived_back(d_po, {1: "1"}))
    _, b_debit = issue_credit_notes(return_request=arrived_back(b_po3, {1: "1"}))
    # B imported a listings file (queued: its task runs after a commit these tests never make).
    from orders.listing_csv import queue_listing_import

    b_import = queue_listing_import(by=b_admin, data=b"sku,name,unit,unit_price\nB-1,B's,ea,1\n", file_name="b.csv")
    bill_num = {"number": b_bill.number}
    po_num = {"number": b_po.number}
    so_num = {"number": b_so.number}
    return {
        "a": a,
        "attacker": attacker,
        "b": b,
        "objects": {
            "orders:accounting-toggle": {"kind": "cost-centers", "pk": cc.pk},
            "orders:po-detail": po_num,
            "orders:po-edit": po_num,
            "orders:po-line-add": po_num,
            "orders:po-lines-paste": po_num,
            "orders:po-order-again": po_num,
            "orders:po-line-preview": po_num,
            "orders:po-listing-picker": po_num,
            "orders:po-line-remove": [{**po_num, "pk": b_line.pk}, {"number": a_po.number, "pk": b_line.pk}],
            "orders:po-line-edit": [{**po_num, "pk": b_line.pk}, {"number": a_po.number, "pk": b_line.pk}],
            "orders:po-submit": po_num,
            "orders:po-revise": po_num,
            "orders:po-share": po_num,
            "orders:po-unshare": po_num,
            "orders:po-confirm": po_num,
            "orders:po-request-changes": po_num,
            "orders:po-cancel": po_num,
            "orders:so-detail": so_num,
            "orders:so-proposal": so_num,
            "orders:so-accept": so_num,
            "orders:so-decline": so_num,
            "orders:so-ship": so_num,
            "orders:po-receive": po_num,
            "orders:thread-post": [{"side": "purchase-orders", **po_num}, {"side": "sales-orders", **so_num}],
            "orders:note-post": [{"side": "purchase-orders", **po_num}, {"side": "sales-orders", **so_num}],
            "orders:revisions": [{"side": "purchase-orders", **po_num}, {"side": "sales-orders", **so_num}],
            "orders:amendments": [{"side": "purchase-orders", **po_num}, {"side": "sales-orders", **so_num}],
            "orders:po-amend": po_num,
            "orders:amendment-withdraw": {**po_num, "amendment": d_amendment.number},
            "orders:amendment-accept": {**so_num, "amendment": d_amendment.number},
            "orders:amendment-decline": {**so_num, "amendment": d_amendment.number},
            "orders:pdf": [{"side": "purchase-orders", **po_num}, {"side": "sales-orders", **so_num}],
            "orders:returns": [
                {"side": "purchase-orders", "number": b_returned.number},
                {"side": "sales-orders", **so_num},
            ],
            "orders:return-new": {"number": b_returned.number},
            "orders:return-withdraw": {"number": b_returned.number, "return_number": b_return.number},
            "orders:return-ship": {"number": b_returned.number, "return_number": b_return.number},
            "orders:return-accept": {**so_num, "return_number": d_return.number},
            "orders:return-decline": {**so_num, "return_number": d_return.number},
            "orders:return-receive": {**so_num, "return_number": d_return.number},
            "orders:return-attachment": [
                {
                    "side": "purchase-orders",
                    "number": b_returned.number,
                    "return_number": b_return.number,
                    "pk": b_return.attachments.get().pk,
                },
                {
                    **so_num,
                    "side": "sales-orders",
                    "return_number": d_return.number,
                    "pk": d_return.attachments.get().pk,
                },
            ],
            "billing:bill-detail": bill_num,
            "billing:bill-edit": bill_num,
            "billing:bill-pay": bill_num,
            "billing:bill-match": bill_num,
            "billing:bill-cancel": bill_num,
            "billing:bill-pdf": bill_num,
            "billing:bill-unmatch": [{**bill_num, "pk": b_match.pk}, {"number": a_bill.number, "pk": b_match.pk}],
            "billing:po-mark-billed": po_num,
            "billing:po-unmark-billed": po_num,
            "billing:invoice-detail": {"number": invoice.number},
            "billing:invoice-pdf": {"number": invoice.number},
            "billing:credit-note-detail": {"number": b_credit.number},
            "billing:credit-note-pdf": {"number": b_credit.number},
            "billing:debit-note-detail": {"number": b_debit.number},
            "billing:debit-note-pdf": {"number": b_debit.number},
            "billing:payment-verify": {"pk": d_payment.pk},
            "billing:payment-attachment": {"pk": d_payment.pk},
            "accounts:tolerance-end": {"pk": override.pk},
            "approvals:request": b_request,
            "approvals:approve": b_request,
            "approvals:reject": b_request,
            "accounts:location-edit": {"pk": LocationFactory(organization=b).pk},
            "accounts:member-edit": {"pk": b_admin.pk},
            "accounts:member-remove": {"pk": b_admin.pk},
            "accounts:member-invitation-revoke": {"pk": invitation.pk},
            "accounts:connection-detail": {"pk": connection.pk},
            "accounts:connection-suspend": {"pk": connection.pk},
            "accounts:connection-reactivate": {"pk": connection.pk},
            "accounts:connection-revoke": {"pk": connection.pk},
            "orders:listing-edit": {"pk": ListingFactory(supplier=b).pk},
            "orders:listing-activate": {"pk": ListingFactory(supplier=b).pk},
            "orders:listing-deactivate": {"pk": ListingFactory(supplier=b).pk},
            "orders:listing-import": {"pk": b_import.pk},
            # A person's own pages: an invitation addressed to someone else.
            "accounts:member-invitation-inbox": {"pk": invitation.pk},
            "accounts:connection-invitation-inbox": {"pk": connection.pk},
        },
    }


def snapshot() -> dict:
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in PROJECT_APPS:
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


POST_DATA = {
    "email": "intruder@example.com",
    "roles": ["admin"],
    "name": "Taken over",
    "reason": "x",
    "currency": "USD",
    "payment_terms_days": "1",
    "sku": "X-1",
    "unit_price": "1",
    "unit": "ea",
    "min_order_qty": "1",
    "action": "accept",
    "is_active": "on",
}


def test_every_pattern_is_classified():
    names = {name for name, _, _ in ALL_PATTERNS}
    assert "home:org-home" in names and "orders:listings" in names  # the walk sees the apps


def test_every_object_url_has_a_sample_value(world):
    missing = [
        name
        for name, _, params in ALL_PATTERNS
        if set(params) - {"org_slug"} and name not in PUBLIC and name not in world["objects"]
    ]
    assert not missing, f"add sample values of another tenant for: {missing}"


def test_other_tenants_objects_answer_404(client, world):
    client.force_login(world["attacker"].user)
    checked = 0
    for name, _, params in ALL_PATTERNS:
        if name in PUBLIC:
            continue
        samples = world["objects"].get(name, {})
        urls = []
        for extra in samples if isinstance(samples, list) else [samples]:
            if "org_slug" in params:
                urls.append(reverse(name, kwargs={"org_slug": world["b"].slug, **extra}))  # not a member of B
                if extra:
                    urls.append(reverse(name, kwargs={"org_slug": world["a"].slug, **extra}))  # B's object via A
            elif extra:
                urls.append(reverse(name, kwargs=extra))
        for url in urls:
            before = snapshot()
            get = client.get(url)
            post = client.post(url, POST_DATA)
            assert get.status_code == 404, f"GET {url} ({name}) answered {get.status_code}"
            assert post.status_code in (404, 405), f"POST {url} ({name}) answered {post.status_code}"
            assert snapshot() == before, f"{url} ({name}) changed data"
            checked += 1
    assert checked >= 60


def test_anonymous_requests_redirect_to_login(client, world):
    for name, _, params in ALL_PATTERNS:
        if name in PUBLIC:
            continue
        samples = world["objects"].get(name, {})
        kwargs = dict(samples[0] if isinstance(samples, list) else samples)
        if "org_slug" in params:
            kwargs["org_slug"] = world["a"].slug
        url = reverse(name, kwargs=kwargs)
        response = client.get(url)
        assert response.status_code == 302, f"{url} ({name}) answered {response.status_code}"
        assert response["Location"].startswith(reverse("accounts:login")), url


def test_public_pages_answer_without_log_in(client, db):
    for name in ("accounts:login", "accounts:signup", "accounts:password-reset", "healthz", "readyz"):
        assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse("accounts:connection-invitation", kwargs={"token": "nope"})).status_code == 404
    assert client.get(reverse("accounts:member-invitation", kwargs={"token": "nope"})).status_code == 404
