"""``python manage.py seed_demo``: the embedded demo's organizations, people, connections
and listings. Idempotent: what exists already is left as it is. Every demo password is ``demo``."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import Connection, ExchangeRate, Membership, Organization, User
from accounts.roles import BUYING_ROLES, SELLING_ROLES, Role
from accounts.selectors import exchange_rate
from approvals.models import ApprovalPolicy, ApprovalStep, Budget, SpendingLimit
from billing.fx import record_fx
from billing.models import Bill, FxDifference, Invoice, Payment
from billing.services.bills import BillLineInput, create_bill
from billing.services.credits import issue_credit_notes
from billing.services.documents import issue_documents
from billing.services.payments import record_payment, verify_payment
from orders.models import (
    CostCenter,
    GLAccount,
    Listing,
    OrderEvent,
    PurchaseOrder,
    ReturnRequest,
    Revision,
    SalesOrder,
    Shipment,
)
from orders.services import amendments, drafts, fulfilment, listings, negotiation, returns, submission
from procurement.money import format_money
from procurement.validators import format_date

PASSWORD = "demo"

# (days ago, EUR → USD): the demo's exchange rates.
FX_RATES = [(30, "1.0850"), (20, "1.0820"), (7, "1.0790"), (5, "1.0905"), (0, "1.0870")]

# Northwind's older EUR → USD rates, one a month before those (days ago, rate): Home's charts
# convert a year of Globex's bills with them.
FX_HISTORY = [(35 + 30 * k, str(Decimal("1.0700") + Decimal("0.0040") * (k % 5))) for k in range(12)]

# A year of closed orders for Home's charts: (customer, supplier, months ago, [(sku, quantity)]).
HISTORY = [
    *(
        ("northwind", "acme", months, [("ACM-1001", str(8 + months * 7 % 17)), ("ACM-3001", str(10 + months * 5 % 30))])
        for months in range(1, 12)
    ),
    *(("northwind", "globex", months, [("GLX-300", str(4 + months % 6))]) for months in (2, 4, 5, 7, 10)),
    *(("globex", "acme", months, [("ACM-2001", str(6 + months * 3 % 9))]) for months in (1, 3, 6, 9)),
]

# What the history's payments are referenced by (and only they): the mark that it is seeded.
HISTORY_PAYMENT = "HIST-TRF-"

# The day after an order's sixth at which each step of a history order happened, for its thread
# (the invoice, the bill and the payment: the twentieth, the default).
HISTORY_STEP_DAYS = {
    OrderEvent.Kind.CREATED: 0,
    OrderEvent.Kind.SUBMITTED: 0,
    OrderEvent.Kind.SENT: 0,
    OrderEvent.Kind.APPROVED: 0,
    OrderEvent.Kind.PROPOSAL_STARTED: 1,
    OrderEvent.Kind.ACCEPTED: 1,
    OrderEvent.Kind.CONFIRMED: 1,
    OrderEvent.Kind.SHIPPED: 2,
    OrderEvent.Kind.RECEIVED: 4,
    OrderEvent.Kind.INVOICED: 5,
}

# slug: (name, domain, currency, buys, sells, address, location)
ORGANIZATIONS = {
    "northwind": (
        "Northwind Traders",
        "northwind.example",
        "USD",
        True,
        False,
        ("200 Harbor Way", "Seattle", "98101", "WA", "United States"),
        "Seattle warehouse",
    ),
    "bluebird": (
        "Bluebird Clinics",
        "bluebird.example",
        "EUR",
        True,
        False,
        ("Keizersgracht 12", "Amsterdam", "1015 CS", "", "Netherlands"),
        "Central store",
    ),
    "acme": (
        "Acme Industrial Supply",
        "acme.example",
        "USD",
        False,
        True,
        ("42 Foundry Road", "Pittsburgh", "15222", "PA", "United States"),
        None,
    ),
    "globex": (
        "Globex Components",
        "globex.example",
        "EUR",
        True,
        True,
        ("Industriestraße 7", "Stuttgart", "70173", "", "Germany"),
        "Stuttgart plant",
    ),
}

# (customer, supplier, status)
CONNECTIONS = [
    ("northwind", "acme", "active"),
    ("northwind", "globex", "active"),
    ("bluebird", "acme", "active"),
    ("globex", "acme", "active"),
    ("bluebird", "globex", "invited"),
]

LISTINGS = {
    "acme": [
        (
            "ACM-1001",
            "Nitrile gloves, size M (box of 100)",
            "box",
            "12.50",
            [("10", "11.75"), ("50", "10.90")],
        ),
        ("ACM-1002", "Nitrile gloves, size L (box of 100)", "box", "12.50", [("10", "11.75")]),
        ("ACM-1100", "Safety goggles, anti-fog", "ea", "8.40", [("25", "7.90")]),
        ("ACM-1200", "Hi-vis vest, class 2", "ea", "6.95", []),
        ("ACM-2001", "Hex bolt M8 × 40, zinc (pack of 50)", "pack", "9.80", [("20", "8.95")]),
        ("ACM-2002", "Hex nut M8, zinc (pack of 100)", "pack", "5.60", []),
        ("ACM-2100", "Threaded rod M10, 1 m", "ea", "3.25", []),
        ("ACM-3001", "Industrial degreaser", "l", "4.80", [("200", "4.20")]),
        ("ACM-3002", "Cutting oil", "l", "7.15", []),
        ("ACM-4001", "Stretch film 500 mm × 300 m", "roll", "18.90", [("12", "17.50")]),
        ("ACM-4002", "Euro pallet, new", "pallet", "24.00", []),
        ("ACM-5001", "Copper wire 2.5 mm²", "m", "0.95", [("500", "0.82")]),
    ],
    "globex": [
        ("GLX-100", "Servo motor 400 W", "ea", "289.00", [("10", "269.00")]),
        ("GLX-110", "Servo drive 400 W", "ea", "345.00", []),
        ("GLX-200", "Linear guide rail 1 m", "ea", "74.50", [("20", "69.00")]),
        ("GLX-210", "Ball screw 16 mm, 1 m", "ea", "96.00", []),
        ("GLX-300", "Proximity sensor M12", "ea", "21.40", [("50", "19.80")]),
        ("GLX-310", "Cable gland M20 (set of 10)", "set", "11.20", []),
        ("GLX-400", "Aluminium profile 40×40", "m", "14.60", [("100", "13.10")]),
        ("GLX-900", "Engineering hour", "h", "95.00", []),
    ],
}


def _expect(result, kind):
    """The result a service returned, when it is what the demo's story needs (``kind``)."""
    if not isinstance(result, kind):
        raise CommandError(f"The demo data expected {kind.__name__} here, not {type(result).__name__}.")
    return result


def _roles_for(buys: bool, sells: bool) -> list[Role]:
    return [r for r in Role if r == Role.ADMIN or (buys and r in BUYING_ROLES) or (sells and r in SELLING_ROLES)]


class Command(BaseCommand):
    help = "Create the demo organizations, users (password 'demo'), connections and listings."

    @transaction.atomic
    def handle(self, *args, **options):
        if not User.objects.filter(email="admin@tandem.example").exists():
            User.objects.create_superuser(email="admin@tandem.example", password=PASSWORD, full_name="Platform Admin")
        orgs = {slug: self._organization(slug, *spec) for slug, spec in ORGANIZATIONS.items()}
        for customer, supplier, status in CONNECTIONS:
            self._connection(orgs[customer], orgs[supplier], status)
        for slug, rows in LISTINGS.items():
            self._listings(orgs[slug], rows)
        self._customer_price(orgs)
        for slug in ("northwind", "bluebird", "globex"):
            self._accounting(orgs[slug])
        self._orders(orgs)
        self._approvals(orgs)
        self._fulfilment(orgs)
        self._billing(orgs)
        self._exchange_rates(orgs)
        self._fx(orgs)
        self._history(orgs)
        self._returns(orgs)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {Organization.objects.count()} organizations, {User.objects.count()} users, "
                f"{Connection.objects.count()} connections, {Listing.objects.count()} listings, "
                f"{PurchaseOrder.objects.count()} purchase orders. "
                f"Password: {PASSWORD}"
            )
        )

    def _admin(self, org: Organization) -> Membership:
        return Membership.objects.select_related("organization", "user").get(
            organization=org, user__email=f"admin@{ORGANIZATIONS[org.slug][1]}"
        )

    def _organization(self, slug, name, domain, currency, buys, sells, address, location) -> Organization:
        org = Organization.objects.filter(slug=slug).first()
        if org is not None:
            return org
        admin_email = f"admin@{domain}"
        user = User.objects.filter(email=admin_email).first() or User.objects.create_user(
            email=admin_email, password=PASSWORD, full_name=f"{name.split()[0]} Admin"
        )
        membership = services.create_organization(user=user, name=name, base_currency=currency, buys=buys, sells=sells)
        org = membership.organization
        org.slug = slug  # demo log-ins and README links use short slugs
        line1, city, postal_code, region, country = address
        org.save(update_fields=["slug"])
        membership.organization = org
        services.update_organization(
            by=membership,
            address_line1=line1,
            city=city,
            postal_code=postal_code,
            region=region,
            country=country,
            notification_email=f"orders@{domain}",
        )
        if location:
            services.save_location(
                by=membership,
                name=location,
                address_line1=line1,
                city=city,
                postal_code=postal_code,
                region=region,
                country=country,
                is_default=True,
            )
        for role in _roles_for(buys, sells):
            if role == Role.ADMIN:
                continue
            person = User.objects.create_user(
                email=f"{role.value}@{domain}",
                password=PASSWORD,
                full_name=f"{name.split()[0]} {role.label}",
            )
            Membership.objects.create(user=person, organization=org, roles=[role.value])
        return Organization.objects.get(pk=org.pk)

    def _connection(self, customer: Organization, supplier: Organization, status: str) -> None:
        if Connection.objects.filter(customer=customer, supplier=supplier).exists():
            return
        supplier_admin = self._admin(supplier)
        email = supplier_admin.user.email
        connection = Connection.objects.filter(customer=customer, invite_email=email).first()
        if connection is None:
            connection = services.invite_supplier(by=self._admin(customer), email=email, payment_terms_days=30)
        if status == "active" and connection.status == Connection.Status.INVITED:
            services.accept_connection(connection=connection, by=supplier_admin)

    def _listings(self, supplier: Organization, rows) -> None:
        admin = self._admin(supplier)
        existing = set(Listing.objects.filter(supplier=supplier).values_list("sku", flat=True))
        for sku, name, unit, price, breaks in rows:
            if sku in existing:
                continue
            listings.save_listing(
                by=admin,
                values=listings.ListingValues(
                    sku=sku,
                    name=name,
                    unit=unit,
                    unit_price=Decimal(price),
                    currency=supplier.base_currency,
                    description=f"{name}. Ships from {supplier.city}.",
                    price_breaks=[(Decimal(quantity), Decimal(break_price)) for quantity, break_price in breaks],
                ),
            )

    def _customer_price(self, orgs) -> None:
        listing = Listing.objects.get(supplier=orgs["acme"], sku="ACM-1001")
        if listing.customer_prices.exists():
            return
        values = listings.ListingValues(
            **{f: getattr(listing, f) for f in listings.LISTING_FIELDS},
            customer_prices=[(orgs["northwind"], Decimal("11.90"))],
        )
        listings.save_listing(by=self._admin(orgs["acme"]), values=values, listing=listing)

    def _accounting(self, org: Organization) -> None:
        for code, name in [
            ("OPS", "Operations"),
            ("MAINT", "Maintenance"),
            ("LAB", "Laboratory"),
            ("ADM", "Administration"),
        ]:
            CostCenter.objects.get_or_create(organization=org, code=code, defaults={"name": name})
        for code, name in [("6100", "Supplies"), ("6200", "Spare parts"), ("6300", "Services"), ("1500", "Equipment")]:
            GLAccount.objects.get_or_create(organization=org, code=code, defaults={"name": name})

    def _orders(self, orgs) -> None:
        """A few orders of Northwind to Acme, in the states a demo walks through."""
        northwind, acme = orgs["northwind"], orgs["acme"]
        if PurchaseOrder.objects.filter(customer=northwind).exists():
            return
        buyer = Membership.objects.select_related("organization", "user").get(
            organization=northwind, user__email="buyer@northwind.example"
        )
        sales = Membership.objects.select_related("organization", "user").get(
            organization=acme, user__email="sales@acme.example"
        )
        connection = Connection.objects.get(customer=northwind, supplier=acme)
        ops = CostCenter.objects.get(organization=northwind, code="OPS")
        supplies = GLAccount.objects.get(organization=northwind, code="6100")
        gloves, goggles, film = (
            Listing.objects.get(supplier=acme, sku=s) for s in ("ACM-1001", "ACM-1100", "ACM-4001")
        )

        def draft(lines, note=""):
            po = drafts.create_purchase_order(by=buyer, connection=connection, note_to_supplier=note)
            for values in lines:
                drafts.add_line(
                    by=buyer, po=po, values=drafts.LineInput(cost_center=ops, gl_account=supplies, **values)
                )
            return po

        draft(
            [
                {"listing": gloves, "quantity": Decimal("20")},
                {
                    "description": "Safety signage kit",
                    "quantity": Decimal("2"),
                    "unit": "set",
                    "unit_price": Decimal("45.00"),
                    "tax_rate": Decimal("8.5"),
                },
            ]
        )
        sent = draft(
            [{"listing": goggles, "quantity": Decimal("30")}, {"listing": film, "quantity": Decimal("12")}],
            note="Please deliver to dock 3.",
        )
        _expect(submission.submit_purchase_order(po=sent, by=buyer), submission.Sent)
        accepted = draft(
            [{"listing": gloves, "quantity": Decimal("60")}, {"listing": goggles, "quantity": Decimal("10")}]
        )
        _expect(submission.submit_purchase_order(po=accepted, by=buyer), submission.Sent)
        accepted.refresh_from_db()
        first, second = accepted.lines.all()
        negotiation.accept_with_proposal(
            so=accepted.sales_order,
            by=sales,
            header=negotiation.ProposalHeader(note="Goggles are back in stock next month."),
            lines={
                first.pk: negotiation.ProposalLineInput(
                    action="change", quantity=Decimal("50"), unit_price=Decimal("10.90")
                ),
                second.pk: negotiation.ProposalLineInput(
                    action="reject", reject_reason="Model discontinued; see ACM-1100B next month."
                ),
            },
        )

    def _approvals(self, orgs) -> None:
        """Northwind approves its orders: two steps, a limit for buyers, this quarter's budgets,
        and one order waiting for its department head."""
        northwind, acme = orgs["northwind"], orgs["acme"]
        if ApprovalPolicy.objects.filter(organization=northwind).exists():
            return
        people = {
            m.user.email.split("@")[0]: m
            for m in Membership.objects.select_related("user", "organization").filter(organization=northwind)
        }
        policy = ApprovalPolicy.objects.create(
            organization=northwind, reapproval_tolerance_percent=Decimal("5"), reminder_after_days=2
        )
        ApprovalStep.objects.create(
            policy=policy, position=1, name="Department head", threshold=Decimal("1000"), approver_role="approver"
        )
        finance = ApprovalStep.objects.create(
            policy=policy, position=2, name="Finance", threshold=Decimal("10000"), rule=ApprovalStep.Rule.ALL
        )
        finance.approvers.set([people["admin"].user, people["approver"].user])
        SpendingLimit.objects.create(organization=northwind, role="buyer", amount=Decimal("500"))
        today = timezone.localdate()
        start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        end = (start + timedelta(days=92)).replace(day=1) - timedelta(days=1)
        for code, amount in [("OPS", "20000"), ("MAINT", "5000")]:
            Budget.objects.create(
                organization=northwind,
                cost_center=CostCenter.objects.get(organization=northwind, code=code),
                name=f"Q{(start.month - 1) // 3 + 1} {start.year}",
                period_start=start,
                period_end=end,
                amount=Decimal(amount),
                owner=people["approver"].user,
            )
        buyer = people["buyer"]
        po = drafts.create_purchase_order(
            by=buyer, connection=Connection.objects.get(customer=northwind, supplier=acme)
        )
        drafts.add_line(
            by=buyer,
            po=po,
            values=drafts.LineInput(
                listing=Listing.objects.get(supplier=acme, sku="ACM-1001"),
                quantity=Decimal("120"),
                cost_center=CostCenter.objects.get(organization=northwind, code="MAINT"),
                gl_account=GLAccount.objects.get(organization=northwind, code="6100"),
            ),
        )
        # over 1,000 USD: the department head decides
        _expect(submission.submit_purchase_order(po=po, by=buyer), submission.PendingApproval)

    def _billing(self, orgs) -> None:
        """Northwind pays part of the open bill (Acme has it to verify), and enters Acme's
        paper invoice for freight by hand, not yet matched."""
        northwind, acme = orgs["northwind"], orgs["acme"]
        payables = Membership.objects.select_related("user", "organization").get(
            organization=northwind, user__email="payables@northwind.example"
        )

        if Bill.objects.filter(customer=northwind, purchase_order__isnull=True).exists():
            return
        today = timezone.localdate()
        bill = Bill.objects.filter(customer=northwind, status=Bill.Status.OPEN).order_by("pk").first()
        if bill is not None:
            record_payment(
                bill=bill,
                by=payables,
                amount=(bill.total / 2).quantize(Decimal("1")),
                paid_on=today,
                method="bank_transfer",
                reference="NW-TRF-21007",
            )
        create_bill(
            by=payables,
            supplier=acme,
            currency="USD",
            bill_date=today - timedelta(days=40),
            due_date=today - timedelta(days=10),
            supplier_reference="ACME-FR-3318",
            notes="Freight for the March deliveries; arrived by post.",
            lines=[
                BillLineInput(description="Freight, March deliveries", quantity=Decimal(1), unit_price=Decimal("48.00"))
            ],
        )

    def _fulfilment(self, orgs) -> None:
        """Two confirmed orders of Northwind to Acme: one shipped in two shipments, the first
        received with a damaged unit and the second on its way; one received in full (closed)."""
        northwind, acme = orgs["northwind"], orgs["acme"]
        if Shipment.objects.filter(customer=northwind).exists():
            return
        people = {
            m.user.email: m
            for m in Membership.objects.select_related("user", "organization").filter(
                organization__in=[northwind, acme]
            )
        }
        buyer, receiver = people["buyer@northwind.example"], people["receiver@northwind.example"]
        sales, shipper = people["sales@acme.example"], people["fulfilment@acme.example"]
        connection = Connection.objects.get(customer=northwind, supplier=acme)
        ops = CostCenter.objects.get(organization=northwind, code="OPS")
        today = timezone.localdate()

        def confirmed(rows):
            po = drafts.create_purchase_order(by=buyer, connection=connection)
            for sku, quantity in rows:
                listing = Listing.objects.get(supplier=acme, sku=sku)
                drafts.add_line(
                    by=buyer,
                    po=po,
                    values=drafts.LineInput(listing=listing, quantity=Decimal(quantity), cost_center=ops),
                )
            # under the buyer's 500 USD: no approval
            _expect(submission.submit_purchase_order(po=po, by=buyer), submission.Sent)
            po.refresh_from_db()
            negotiation.accept_sales_order(so=po.sales_order, by=sales)
            _expect(negotiation.confirm_purchase_order(po=po, by=buyer), negotiation.Confirmed)
            return po, {line.sku: line.pk for line in po.lines.all()}

        po, lines = confirmed([("ACM-1100", "20"), ("ACM-4001", "5")])
        first = fulfilment.record_shipment(
            so=po.sales_order,
            by=shipper,
            lines={lines["ACM-1100"]: Decimal("20"), lines["ACM-4001"]: Decimal("2")},
            shipped_on=today - timedelta(days=3),
            carrier="DHL Freight",
            tracking_number="JD014600006281",
        )
        fulfilment.record_receipt(
            po=po,
            by=receiver,
            shipment=first,
            received_on=today - timedelta(days=1),
            lines={
                lines["ACM-1100"]: fulfilment.ReceiptLineInput(
                    quantity=Decimal("19"), damaged=Decimal("1"), reason="Lens cracked in the box"
                ),
                lines["ACM-4001"]: fulfilment.ReceiptLineInput(quantity=Decimal("2")),
            },
        )
        fulfilment.record_shipment(
            so=po.sales_order,
            by=shipper,
            lines={lines["ACM-4001"]: Decimal("3")},
            shipped_on=today,
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
        )
        issue_documents(po=po)  # the task would run after the seed commits
        done, lines = confirmed([("ACM-2001", "10")])
        shipment = fulfilment.record_shipment(
            so=done.sales_order,
            by=shipper,
            lines={lines["ACM-2001"]: Decimal("10")},
            shipped_on=today - timedelta(days=6),
        )
        fulfilment.record_receipt(
            po=done,
            by=receiver,
            shipment=shipment,
            received_on=today - timedelta(days=4),
            lines={lines["ACM-2001"]: fulfilment.ReceiptLineInput(quantity=Decimal("10"))},
        )
        _, bill = issue_documents(po=done)
        payment = record_payment(
            bill=bill,
            by=people["payables@northwind.example"],
            amount=bill.total,
            paid_on=today,
            method="bank_transfer",
            reference="NW-TRF-20931",
        )
        verify_payment(  # the order closes: received, paid and verified
            payment=payment, by=people["receivables@acme.example"], amount_received=bill.total
        )
        # An amended order: more gloves, accepted by Acme (the bill followed); a second
        # amendment, cancelling the film, waits for Acme's answer.
        amended, lines = confirmed([("ACM-1001", "4"), ("ACM-4001", "2")])
        issue_documents(po=amended)
        first = amendments.request_amendment(
            po=amended,
            by=buyer,
            reason="The second shift starts next week.",
            quantities={lines["ACM-1001"]: Decimal("10")},
        )
        amendments.accept_amendment(amendment=first, by=sales)
        amendments.request_amendment(
            po=amended, by=buyer, reason="The film came from stock after all.", cancel={lines["ACM-4001"]}
        )

    def _history(self, orgs) -> None:
        """A year of orders, each shipped, received, billed, paid and verified (closed), dated in
        the month it belongs to: what Home's charts of spend and sales show. The services run
        today; the dates are then moved back (demo data only: nothing else may write them)."""
        if Payment.objects.filter(reference__startswith=HISTORY_PAYMENT).exists():
            return  # seeded already, on whatever day
        today = timezone.localdate()
        people = {
            m.user.email: m
            for m in Membership.objects.select_related("user", "organization").filter(
                organization__slug__in={slug for row in HISTORY for slug in row[:2]}
            )
        }
        ExchangeRate.objects.bulk_create(
            ExchangeRate(
                organization=orgs["northwind"],
                day=today - timedelta(days=days),
                from_currency="EUR",
                to_currency="USD",
                rate=Decimal(rate),
            )
            for days, rate in FX_HISTORY
        )
        for customer_slug, supplier_slug, months, rows in HISTORY:
            customer, supplier = orgs[customer_slug], orgs[supplier_slug]
            at = lambda slug, role: people[f"{role}@{ORGANIZATIONS[slug][1]}"]  # noqa: E731
            buyer = at(customer_slug, "buyer")
            cost_center = CostCenter.objects.filter(organization=customer).order_by("code").first()
            po = drafts.create_purchase_order(
                by=buyer, connection=Connection.objects.get(customer=customer, supplier=supplier)
            )
            for sku, quantity in rows:
                drafts.add_line(
                    by=buyer,
                    po=po,
                    values=drafts.LineInput(
                        listing=Listing.objects.get(supplier=supplier, sku=sku),
                        quantity=Decimal(quantity),
                        cost_center=cost_center,
                    ),
                )
            _expect(submission.submit_purchase_order(po=po, by=buyer), submission.Sent)  # under every limit
            po.refresh_from_db()
            negotiation.accept_sales_order(so=po.sales_order, by=at(supplier_slug, "sales"))
            _expect(negotiation.confirm_purchase_order(po=po, by=buyer), negotiation.Confirmed)
            year, month = today.year, today.month - months
            while month < 1:
                year, month = year - 1, month + 12
            day = today.replace(year=year, month=month, day=6)
            lines = {line.pk: line.quantity for line in po.lines.all()}
            shipment = fulfilment.record_shipment(
                so=po.sales_order, by=at(supplier_slug, "fulfilment"), lines=lines, shipped_on=day + timedelta(days=2)
            )
            fulfilment.record_receipt(
                po=po,
                by=at(customer_slug, "receiver"),
                shipment=shipment,
                received_on=day + timedelta(days=4),
                lines={pk: fulfilment.ReceiptLineInput(quantity=quantity) for pk, quantity in lines.items()},
            )
            _, bill = issue_documents(po=po)
            payment = record_payment(
                bill=bill,
                by=at(customer_slug, "payables"),
                amount=bill.total,
                paid_on=day + timedelta(days=20),
                method="bank_transfer",
                reference=f"{HISTORY_PAYMENT}{customer_slug[:2].upper()}-{po.number}",
            )
            verify_payment(payment=payment, by=at(supplier_slug, "receivables"), amount_received=bill.total)
            moment = timezone.make_aware(datetime.combine(day, time(10)))
            PurchaseOrder.objects.filter(pk=po.pk).update(
                created_at=moment,
                order_date=day,
                submitted_at=moment,
                sent_at=moment,
                supplier_accepted_at=moment + timedelta(days=1),
                confirmed_at=moment + timedelta(days=1),
                billed_at=moment + timedelta(days=5),
                closed_at=moment + timedelta(days=21),
                # the rate of the day it was submitted (what "committed" is valued at)
                base_rate=exchange_rate(
                    organization=customer, currency=po.currency, base_currency=customer.base_currency, on=day
                )
                or po.base_rate,
            )
            SalesOrder.objects.filter(pk=po.sales_order.pk).update(created_at=moment)
            documents = {
                "created_at": moment + timedelta(days=5),
                "due_date": day + timedelta(days=35),
            }
            Invoice.objects.filter(pk=bill.invoice_id).update(invoice_date=day + timedelta(days=5), **documents)
            Bill.objects.filter(pk=bill.pk).update(bill_date=day + timedelta(days=5), **documents)
            Invoice.objects.filter(pk=bill.invoice_id).update(paid_at=moment + timedelta(days=21))
            Payment.objects.filter(pk=payment.pk).update(
                recorded_at=moment + timedelta(days=20), decided_at=moment + timedelta(days=21)
            )
            invoice = Invoice.objects.get(pk=bill.invoice_id)
            OrderEvent.objects.filter(purchase_order=po, kind=OrderEvent.Kind.INVOICED).update(
                body=f"Invoice {invoice.number} issued for {format_money(invoice.total, invoice.currency)}, "
                f"due {format_date(invoice.due_date)}."
            )
            # The FX figures again, from the dates the goods, the bill and the payment really have.
            FxDifference.objects.filter(bill=bill).delete()
            record_fx(bill=Bill.objects.get(pk=bill.pk))
            Revision.objects.filter(purchase_order=po).update(created_at=moment + timedelta(days=1))
            # The thread says when each step happened, in the order it happened.
            for n, event in enumerate(OrderEvent.objects.filter(purchase_order=po).order_by("created_at", "pk")):
                step = HISTORY_STEP_DAYS.get(event.kind, 20)
                event.created_at = moment + timedelta(days=step, minutes=n)
                event.save(update_fields=["created_at"])

    def _returns(self, orgs) -> None:
        """Northwind sent two packs of bolts of a paid order back to Acme, for a credit: the
        credit note and the debit note leave a balance in Northwind's favour. One more pack waits
        for Acme's answer. (PO-000005's damaged goggles are left for the visitor.)"""
        northwind = orgs["northwind"]
        if ReturnRequest.objects.filter(customer=northwind).exists():
            return
        people = {m.user.email: m for m in Membership.objects.select_related("user", "organization")}
        receiver = people["receiver@northwind.example"]
        today = timezone.localdate()
        paid = PurchaseOrder.objects.filter(customer=northwind, status="closed", lines__sku="ACM-2001").earliest("pk")
        bolts = paid.lines.get(sku="ACM-2001")
        credit = returns.request_return(
            po=paid,
            by=receiver,
            lines={bolts.pk: Decimal("2")},
            reason="quality",
            reason_text="Threads stripped on the first turn.",
            resolution="credit",
        )
        returns.accept_return(
            return_request=credit, by=people["sales@acme.example"], instructions="Ship to Acme returns, dock 2."
        )
        returns.ship_return(return_request=credit, by=receiver, shipped_on=today, carrier="UPS", tracking_number="1Z4R")
        returns.receive_return(
            return_request=credit,
            by=people["fulfilment@acme.example"],
            lines={bolts.pk: returns.ArrivalInput(Decimal("2"), "not_as_described")},
            received_on=today,
        )
        issue_credit_notes(return_request=credit)  # the task would run after the seed commits
        returns.request_return(  # a second look: one more pack, waiting for Acme's answer
            po=paid, by=receiver, lines={bolts.pk: Decimal("1")}, reason="wrong_item", resolution="credit"
        )

    def _exchange_rates(self, orgs) -> None:
        """The EUR → USD rates of the last month in Bluebird's and Northwind's tables (each
        organization keeps its own; Bluebird's bills in USD use their inverse)."""

        today = timezone.localdate()
        for slug in ("bluebird", "northwind"):
            if ExchangeRate.objects.filter(organization=orgs[slug]).exists():
                continue
            ExchangeRate.objects.bulk_create(
                ExchangeRate(
                    organization=orgs[slug],
                    day=today - timedelta(days=days),
                    from_currency="EUR",
                    to_currency="USD",
                    rate=Decimal(rate),
                )
                for days, rate in FX_RATES
            )

    def _fx(self, orgs) -> None:
        """Bluebird (EUR) buys from Acme in USD: an order received 6 days ago and billed today (an
        FX gain from receipt to invoice), and Acme's service invoice entered by hand, dated 20
        days ago and paid 5 days ago (an FX gain from invoice to payment)."""

        bluebird, acme = orgs["bluebird"], orgs["acme"]
        if Bill.objects.filter(customer=bluebird).exists():
            return
        people = {
            m.user.email: m
            for m in Membership.objects.select_related("user", "organization").filter(organization__in=[bluebird, acme])
        }
        buyer, receiver = people["buyer@bluebird.example"], people["receiver@bluebird.example"]
        payables = people["payables@bluebird.example"]
        today = timezone.localdate()
        po = drafts.create_purchase_order(by=buyer, connection=Connection.objects.get(customer=bluebird, supplier=acme))
        line = drafts.add_line(
            by=buyer,
            po=po,
            values=drafts.LineInput(
                listing=Listing.objects.get(supplier=acme, sku="ACM-1001"),
                quantity=Decimal("40"),
                cost_center=CostCenter.objects.get(organization=bluebird, code="LAB"),
            ),
        )
        _expect(submission.submit_purchase_order(po=po, by=buyer), submission.Sent)  # Bluebird has no policy
        po.refresh_from_db()
        negotiation.accept_sales_order(so=po.sales_order, by=people["sales@acme.example"])
        _expect(negotiation.confirm_purchase_order(po=po, by=buyer), negotiation.Confirmed)
        shipment = fulfilment.record_shipment(
            so=po.sales_order,
            by=people["fulfilment@acme.example"],
            lines={line.pk: Decimal("40")},
            shipped_on=today - timedelta(days=8),
            carrier="FedEx",
            tracking_number="7712 3456 7890",
        )
        fulfilment.record_receipt(
            po=po,
            by=receiver,
            shipment=shipment,
            received_on=today - timedelta(days=6),
            lines={line.pk: fulfilment.ReceiptLineInput(quantity=Decimal("40"))},
        )
        issue_documents(po=po)  # dated today: the goods are valued at both rates
        bill = create_bill(
            by=payables,
            supplier=acme,
            currency="USD",
            bill_date=today - timedelta(days=20),
            due_date=today - timedelta(days=5),
            supplier_reference="ACME-SV-7741",
            lines=[
                BillLineInput(description="Autoclave service visit", quantity=Decimal(1), unit_price=Decimal("1250.00"))
            ],
        )
        record_payment(
            bill=bill,
            by=payables,
            amount=bill.total,
            paid_on=today - timedelta(days=5),
            method="bank_transfer",
            reference="BB-SEPA-0412",
        )
