"""``python manage.py generate_data --orders N``: a realistic data set, fast (bulk inserts).

100 organizations (buyers, sellers and some that do both), their people, connections,
listings and accounting codes, then N purchase orders of 5 lines each spread over every
state, with their sales orders, revisions, thread events and internal notes. Run it again to
add more orders: numbers continue. Meant for PostgreSQL (the benchmark); works on SQLite.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from guardian.models import UserObjectPermission

from accounts.models import Connection, DocumentSequence, Location, Membership, Organization, User, hash_token
from accounts.roles import Role
from billing.models import Bill, Invoice
from orders.models import (
    CostCenter,
    GLAccount,
    Listing,
    OrderEvent,
    PurchaseOrder,
    PurchaseOrderLine,
    Revision,
    RevisionLine,
    SalesOrder,
)
from orders.revisions import LINE_VALUE_FIELDS
from orders.totals import line_amounts
from procurement.money import round_money

PREFIX = "gen"  # slugs and e-mails of generated organizations start with it
ORGANIZATIONS = 100
LINES = 5
BATCH = 2000
S, SO = PurchaseOrder.Status, SalesOrder.Status
# (PO status, SO status or None, revisions) and how often each occurs
STATES = [
    ((S.DRAFT, None, 0), 10),
    ((S.SENT, SO.NEW, 1), 12),
    ((S.SENT, SO.IN_REVIEW, 1), 5),
    ((S.SUPPLIER_ACCEPTED, SO.ACCEPTED, 2), 10),
    ((S.SENT, SO.CHANGES_REQUESTED, 2), 3),
    ((S.CONFIRMED, SO.CONFIRMED, 2), 45),
    ((S.DECLINED, SO.DECLINED, 1), 5),
    ((S.CANCELLED, SO.CANCELLED, 1), 5),
    ((S.EXPIRED, SO.EXPIRED, 1), 5),
]


class Command(BaseCommand):
    help = "Generate organizations, listings and N purchase orders (5 lines each) with bulk inserts."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, orders: int, seed: int, **options):
        started = time.monotonic()
        rng = random.Random(seed + PurchaseOrder.objects.count())
        with transaction.atomic():
            world = self._world(random.Random(seed))
        made = 0
        while made < orders:
            size = min(BATCH, orders - made)
            with transaction.atomic():
                self._orders(world, size, rng)
            made += size
            if made % 10000 == 0 or made == orders:
                self.stdout.write(f"  {made} orders ({time.monotonic() - started:.0f} s)")
        self._sequences(world)
        if connection.vendor == "postgresql":
            # What autovacuum would do after a bulk load, now rather than minutes later: planner
            # statistics, and the visibility map that lets a COUNT read the index alone.
            with connection.cursor() as cursor:  # (VACUUM cannot run inside a transaction, as in a test)
                cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {orders} purchase orders in {elapsed:.1f} s ({orders / max(elapsed, 0.001):.0f} orders/s); "
                f"{PurchaseOrder.objects.count()} in the database."
            )
        )

    # ------------------------------------------------------------------------------ world

    def _world(self, rng: random.Random) -> dict:
        """The organizations and everything orders need; made once, reused on later runs."""
        orgs = list(Organization.objects.filter(slug__startswith=f"{PREFIX}-").order_by("pk"))
        if not orgs:
            orgs = self._organizations()
        customers = [o for o in orgs if o.buys]
        suppliers = [o for o in orgs if o.sells]
        connections = list(Connection.objects.filter(customer__in=customers, status=Connection.Status.ACTIVE))
        listings: dict[int, list[Listing]] = {}
        for listing in Listing.objects.filter(supplier__in=suppliers, is_active=True):
            listings.setdefault(listing.supplier_id, []).append(listing)
        cost_centers = {c.organization_id: c for c in CostCenter.objects.filter(organization__in=customers)}
        buyers = {
            m.organization_id: m.user_id
            for m in Membership.objects.filter(organization__in=customers, user__email__startswith="buyer@")
        }
        sales = {
            m.organization_id: m.user_id
            for m in Membership.objects.filter(organization__in=suppliers, user__email__startswith="sales@")
        }
        return {
            "connections": connections,
            "listings": listings,
            "cost_centers": cost_centers,
            "buyers": buyers,
            "sales": sales,
            "customers": customers,
            "suppliers": suppliers,
            "po_type": ContentType.objects.get_for_model(PurchaseOrder),
            "edit_permission": Permission.objects.get(
                content_type__app_label="orders", codename="change_purchaseorder"
            ),
        }

    def _organizations(self) -> list[Organization]:
        password = make_password("demo")
        orgs = [
            Organization(
                name=f"Generated Company {i:03d}",
                slug=f"{PREFIX}-{i:03d}",
                base_currency="USD",
                buys=i % 10 < 6 or i % 10 == 9,
                sells=i % 10 >= 6,
                city="Springfield",
                country="United States",
            )
            for i in range(ORGANIZATIONS)
        ]
        Organization.objects.bulk_create(orgs)
        orgs = list(Organization.objects.filter(slug__startswith=f"{PREFIX}-").order_by("pk"))
        DocumentSequence.objects.bulk_create(
            DocumentSequence(organization=o, kind=k) for o in orgs for k in DocumentSequence.Kind.values
        )
        users, memberships = [], []
        for org in orgs:
            roles = [Role.ADMIN, Role.BUYER, Role.APPROVER] if org.buys else [Role.ADMIN]
            roles += [Role.SALES, Role.FULFILMENT] if org.sells else []
            for role in roles:
                users.append(
                    User(
                        email=f"{role.value}@{org.slug}.example",
                        full_name=f"{org.name} {role.label}",
                        password=password,
                    )
                )
        User.objects.bulk_create(users)
        by_email = {u.email: u for u in User.objects.filter(email__endswith=".example", email__contains=f"@{PREFIX}-")}
        for email, user in by_email.items():
            role, slug = email.split("@")[0], email.split("@")[1].removesuffix(".example")
            memberships.append(
                Membership(user=user, organization_id=next(o.pk for o in orgs if o.slug == slug), roles=[role])
            )
        Membership.objects.bulk_create(memberships)
        customers = [o for o in orgs if o.buys]
        suppliers = [o for o in orgs if o.sells]
        Location.objects.bulk_create(
            Location(
                organization=o,
                name="Main warehouse",
                address_line1="1 Dock Road",
                city="Springfield",
                country="United States",
                is_default=True,
            )
            for o in customers
        )
        CostCenter.objects.bulk_create(CostCenter(organization=o, code="OPS", name="Operations") for o in customers)
        GLAccount.objects.bulk_create(GLAccount(organization=o, code="6100", name="Supplies") for o in customers)
        connections = []
        for i, customer in enumerate(customers):
            for k in range(5):
                supplier = suppliers[(i * 3 + k * 7) % len(suppliers)]
                if supplier.pk != customer.pk:
                    connections.append(
                        Connection(
                            customer=customer,
                            supplier=supplier,
                            status=Connection.Status.ACTIVE,
                            invite_email=f"sales@{supplier.slug}.example",
                            token_hash=hash_token(uuid.uuid4().hex),
                            currency="USD",
                            payment_terms_days=30,
                            accepted_at=timezone.now(),
                        )
                    )
        Connection.objects.bulk_create(connections, ignore_conflicts=True)
        Listing.objects.bulk_create(
            Listing(
                supplier=s,
                sku=f"{s.slug.upper()}-{n:03d}",
                name=f"Part {n} of {s.name}",
                unit="ea",
                unit_price=Decimal(5 + n) + Decimal("0.25"),
                currency="USD",
            )
            for s in suppliers
            for n in range(20)
        )
        return orgs

    # ----------------------------------------------------------------------------- orders

    def _orders(self, world: dict, count: int, rng: random.Random) -> None:
        now = timezone.now()
        states = [state for state, weight in STATES for _ in range(weight)]
        numbers: dict[int, int] = {}
        so_numbers: dict[int, int] = {}
        for customer in world["customers"]:
            numbers[customer.pk] = self._last(customer, "po")
        for supplier in world["suppliers"]:
            so_numbers[supplier.pk] = self._last(supplier, "so")
        plans = []
        for _ in range(count):
            connection = rng.choice(world["connections"])
            customer_id, supplier_id = connection.customer_id, connection.supplier_id
            numbers[customer_id] += 1
            po_status, so_status, revisions = rng.choice(states)
            created = now - timedelta(days=rng.randint(0, 720), minutes=rng.randint(0, 1440))
            lines = []
            for position in range(1, LINES + 1):
                listing = rng.choice(world["listings"][supplier_id])
                quantity = Decimal(rng.randint(1, 40))
                total, tax = line_amounts(quantity, listing.unit_price, Decimal("8.50"), "USD")
                lines.append((position, listing, quantity, total, tax))
            subtotal = sum(line[3] for line in lines)
            tax_total = sum(line[4] for line in lines)
            po = PurchaseOrder(
                customer_id=customer_id,
                supplier_id=supplier_id,
                connection_id=connection.pk,
                number=f"PO-{numbers[customer_id]:06d}",
                requester_id=world["buyers"][customer_id],
                status=po_status,
                currency="USD",
                order_date=None if po_status == S.DRAFT else created.date(),
                payment_terms_days=30,
                subtotal=subtotal,
                tax_total=tax_total,
                total=round_money(subtotal + tax_total, "USD"),
                revision_number=revisions,
                base_rate=None if po_status == S.DRAFT else Decimal("1"),
                created_at=created,
                submitted_at=None if po_status == S.DRAFT else created,
                sent_at=None if so_status is None else created,
                confirmed_at=created + timedelta(days=2) if po_status == S.CONFIRMED else None,
            )
            so = None
            if so_status is not None:
                so_numbers[supplier_id] += 1
                so = SalesOrder(
                    supplier_id=supplier_id,
                    customer_id=customer_id,
                    status=so_status,
                    number=f"SO-{so_numbers[supplier_id]:06d}",
                    created_at=created,
                )
            plans.append((po, so, lines, revisions, created))
        PurchaseOrder.objects.bulk_create([p[0] for p in plans], batch_size=BATCH)
        for po, so, *_ in plans:
            if so is not None:
                so.purchase_order_id = po.pk
        SalesOrder.objects.bulk_create([p[1] for p in plans if p[1] is not None], batch_size=BATCH)
        po_lines, revisions_made, events = [], [], []
        for po, so, lines, revisions, created in plans:
            for position, listing, quantity, total, tax in lines:
                po_lines.append(
                    PurchaseOrderLine(
                        purchase_order_id=po.pk,
                        key=uuid.uuid4(),
                        position=position,
                        listing=listing,
                        sku=listing.sku,
                        description=listing.name,
                        quantity=quantity,
                        unit="ea",
                        unit_price=listing.unit_price,
                        tax_rate=Decimal("8.50"),
                        line_total=total,
                        tax_amount=tax,
                        listing_price_at_add=listing.unit_price,
                        cost_center=world["cost_centers"][po.customer_id],
                    )
                )
            for n in range(1, revisions + 1):
                revisions_made.append(
                    Revision(
                        purchase_order_id=po.pk,
                        number=n,
                        kind="submitted" if n == 1 else "accepted",
                        header={},
                        subtotal=po.subtotal,
                        discount=Decimal(0),
                        tax_total=po.tax_total,
                        total=po.total,
                        created_at=created,
                    )
                )
            by_buyer = {"actor_id": po.requester_id, "organization_id": po.customer_id}
            kinds = [("created", by_buyer, "")]
            if so is not None:
                kinds.append(("sent", by_buyer, f"Sent as {so.number}."))
            if revisions > 1:
                kinds.append(("accepted", {"organization_id": po.supplier_id}, "Accepted: no changes."))
            if po.status == S.CONFIRMED:
                kinds.append(("confirmed", by_buyer, ""))
            events += [
                OrderEvent(purchase_order_id=po.pk, kind=kind, created_at=created, body=body, **who)
                for kind, who, body in kinds
            ]
        PurchaseOrderLine.objects.bulk_create(po_lines, batch_size=BATCH * 2)
        Revision.objects.bulk_create(revisions_made, batch_size=BATCH)
        by_po = {}
        for line in po_lines:
            by_po.setdefault(line.purchase_order_id, []).append(line)
        RevisionLine.objects.bulk_create(
            (
                RevisionLine(revision_id=rev.pk, **{name: getattr(line, name) for name in LINE_VALUE_FIELDS})
                for rev in revisions_made
                for line in by_po[rev.purchase_order_id]
            ),
            batch_size=BATCH * 2,
        )
        OrderEvent.objects.bulk_create(events, batch_size=BATCH * 2)
        # As create_purchase_order does: the requester holds the object permission to edit their draft.
        UserObjectPermission.objects.bulk_create(
            (
                UserObjectPermission(
                    permission=world["edit_permission"],
                    content_type=world["po_type"],
                    object_pk=str(po.pk),
                    user_id=po.requester_id,
                )
                for po, *_ in plans
            ),
            batch_size=BATCH * 2,
        )
        self._documents(plans)

    def _documents(self, plans) -> None:
        """Confirmed orders have their invoice and bill (headers only: the lists read those),
        some paid, some overdue — as ``billing.services.issue_documents`` would make them."""

        today = timezone.localdate()
        confirmed = [(po, so) for po, so, *_ in plans if po.status == S.CONFIRMED]
        inv_numbers, bill_numbers = {}, {}
        invoices, bills = [], []
        for po, so in confirmed:
            for numbers, org_id, kind in (
                (inv_numbers, po.supplier_id, "invoice"),
                (bill_numbers, po.customer_id, "bill"),
            ):
                if org_id not in numbers:
                    numbers[org_id] = self._last(Organization(pk=org_id), kind)
                numbers[org_id] += 1
            issued = po.confirmed_at.date()
            due = issued + timedelta(days=po.payment_terms_days)
            amounts = {
                "currency": po.currency,
                "revision": po.revision_number,
                "due_date": due,
                "subtotal": po.subtotal,
                "tax_total": po.tax_total,
                "total": po.total,
            }
            paid = due < today - timedelta(days=60)  # old ones are paid; recent ones open, some overdue
            invoices.append(
                Invoice(
                    supplier_id=po.supplier_id,
                    customer_id=po.customer_id,
                    purchase_order_id=po.pk,
                    sales_order_id=so.pk,
                    number=f"INV-{inv_numbers[po.supplier_id]:06d}",
                    invoice_date=issued,
                    status="paid" if paid else "open",
                    created_at=po.confirmed_at,
                    **amounts,
                )
            )
            bills.append(
                Bill(
                    customer_id=po.customer_id,
                    supplier_id=po.supplier_id,
                    purchase_order_id=po.pk,
                    number=f"BILL-{bill_numbers[po.customer_id]:06d}",
                    bill_date=issued,
                    status="verified" if paid else "open",
                    paid_total=po.total if paid else 0,
                    verified_total=po.total if paid else 0,
                    created_at=po.confirmed_at,
                    **amounts,
                )
            )
        Invoice.objects.bulk_create(invoices, batch_size=BATCH)
        for bill, invoice in zip(bills, invoices, strict=True):
            bill.invoice_id = invoice.pk
        Bill.objects.bulk_create(bills, batch_size=BATCH)
        PurchaseOrder.objects.filter(pk__in=[po.pk for po, _ in confirmed]).update(billed_at=timezone.now())

    def _last(self, org: Organization, kind: str) -> int:
        if kind in ("invoice", "bill"):
            model, field = (Invoice, "supplier") if kind == "invoice" else (Bill, "customer")
            seq = (
                DocumentSequence.objects.filter(organization=org, kind=kind)
                .values_list("last_value", flat=True)
                .first()
            )
            biggest = model.objects.filter(**{field: org}).aggregate(m=Max("number"))["m"]
            return max(seq or 0, int(biggest.split("-")[1]) if biggest else 0)
        model, field = (PurchaseOrder, "customer") if kind == "po" else (SalesOrder, "supplier")
        seq = DocumentSequence.objects.filter(organization=org, kind=kind).values_list("last_value", flat=True).first()
        biggest = model.objects.filter(**{field: org}).aggregate(m=Max("number"))["m"]
        return max(seq or 0, int(biggest.split("-")[1]) if biggest else 0)

    def _sequences(self, world: dict) -> None:
        """Keep the document sequences ahead of every generated number (numbers are never reused)."""
        for org in world["customers"] + world["suppliers"]:
            for kind in ("po", "so", "invoice", "bill"):
                DocumentSequence.objects.filter(organization=org, kind=kind).update(last_value=self._last(org, kind))
