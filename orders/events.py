"""History and notifications of an order: the entries of its shared thread and the e-mails of its events.

Both are steps of a service's transaction — the entry and the e-mail belong to the change they
record, and go with it if it rolls back — so they assert that they run inside one
(``procurement.transactions.require_atomic``)."""

from __future__ import annotations

from django.urls import reverse

from accounts.mail import absolute_url, queue_email
from accounts.models import Membership, Organization
from procurement.transactions import require_atomic

from .models import OrderEvent, PurchaseOrder


def record_event(po: PurchaseOrder, kind: str, *, by: Membership | None = None, body: str = "", data=None):
    """Write one entry of the shared thread (every transition writes one), inside the service's transaction."""
    require_atomic()
    return OrderEvent.objects.create(
        purchase_order=po,
        kind=kind,
        actor=by.user if by else None,
        organization=by.organization if by else None,
        body=body,
        data=data or {},
    )


def emails_of(org: Organization, *roles: str) -> list[str]:
    emails = [m.user.email for m in org.memberships.select_related("user") if set(m.roles) & {"admin", *roles}]
    if org.notification_email:
        emails.append(org.notification_email)
    return emails


def notify(
    po: PurchaseOrder,
    template: str,
    *,
    to_customer=False,
    to_supplier=False,
    attach_pdf=False,
    customer_roles: tuple[str, ...] = (),
    customer_also: tuple[str, ...] = (),
    supplier_roles: tuple[str, ...] = ("sales",),
    tab: str = "",
    **context,
) -> None:
    """Queue the e-mail of an event to each side, linking straight to that side's page: the
    customer's requester and admins (and ``customer_roles``), the supplier's admins and
    ``supplier_roles``, and each organization's notification address; ``tab`` ("returns") links
    to that tab of the order instead. Inside the service's transaction: the e-mails are sent
    after it commits."""
    require_atomic()
    so = getattr(po, "sales_order", None)
    event_id = po.events.order_by("-pk").values_list("pk", flat=True).first()
    sides = []
    if to_customer:
        url = _order_url(po.customer.slug, "purchase-orders", po.number, tab)
        to = [po.requester.email, *customer_also, *emails_of(po.customer, *customer_roles)]
        sides.append(("customer", po.customer, list(dict.fromkeys(to)), url))
    if to_supplier and so is not None:
        url = _order_url(po.supplier.slug, "sales-orders", so.number, tab)
        sides.append(("supplier", po.supplier, emails_of(po.supplier, *supplier_roles), url))
    for side, org, to, url in sides:
        attachments = []
        if attach_pdf:
            attachments.append({"renderer": "purchase_order_pdf", "pk": po.pk, "revision": po.revision_number})
        queue_email(
            key=f"{template}:{po.pk}:{event_id}:{side}",
            to=to,
            template=template,
            organization=org,
            attachments=attachments,
            context={"po": po, "so": so, "side": side, "url": absolute_url(url), **context},
        )


def _order_url(org_slug: str, side: str, number: str, tab: str) -> str:
    if tab:
        return reverse(f"orders:{tab}", kwargs={"org_slug": org_slug, "side": side, "number": number})
    name = "orders:po-detail" if side == "purchase-orders" else "orders:so-detail"
    return reverse(name, kwargs={"org_slug": org_slug, "number": number})
