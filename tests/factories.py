"""factory_boy factories that keep related objects inside one tenant."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.core.exceptions import ValidationError
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import (
    Connection,
    DocumentSequence,
    ExchangeRate,
    Location,
    Membership,
    Organization,
    User,
    hash_token,
)
from accounts.roles import Role
from approvals.models import ApprovalPolicy, ApprovalStep, Budget, SpendingLimit
from billing.services.bills import BillLineInput
from orders.forms import ListingForm
from orders.models import CostCenter, GLAccount, Listing
from orders.services.drafts import LineInput
from orders.services.fulfilment import ReceiptLineInput
from orders.services.listings import ListingRefused, ListingValues
from orders.services.negotiation import AddedLineInput, ProposalHeader, ProposalLineInput
from procurement.forms import NumberField
from procurement.money import parse_decimal


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "demo")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    base_currency = "USD"
    buys = True
    sells = False

    @factory.post_generation
    def sequences(obj, create, extracted, **kwargs):
        if create:
            DocumentSequence.objects.bulk_create(
                DocumentSequence(organization=obj, kind=kind) for kind in DocumentSequence.Kind.values
            )


class SupplierFactory(OrganizationFactory):
    buys = False
    sells = True


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    roles = factory.LazyFunction(lambda: [Role.ADMIN.value])


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    address_line1 = "1 Main Street"
    city = "Springfield"
    country = "United States"
    is_default = True


class ConnectionFactory(DjangoModelFactory):
    class Meta:
        model = Connection

    customer = factory.SubFactory(OrganizationFactory)
    supplier = factory.SubFactory(SupplierFactory)
    status = Connection.Status.ACTIVE
    invite_email = factory.Sequence(lambda n: f"sales{n}@supplier.example")
    token_hash = factory.Sequence(lambda n: hash_token(f"token-{n}"))
    currency = "USD"
    payment_terms_days = 30


class ListingFactory(DjangoModelFactory):
    class Meta:
        model = Listing

    supplier = factory.SubFactory(SupplierFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Widget {n}")
    unit = "ea"
    unit_price = Decimal("10.00")
    currency = factory.LazyAttribute(lambda o: o.supplier.base_currency)
    min_order_qty = Decimal("1")


def member(organization: Organization, *roles: Role | str, email: str | None = None) -> Membership:
    """A person in ``organization`` with ``roles`` (admin if none given)."""
    kwargs = {"email": email} if email else {}
    return MembershipFactory(
        organization=organization,
        user=UserFactory(**kwargs),
        roles=[Role(r).value for r in roles] or [Role.ADMIN.value],
    )


class CostCenterFactory(DjangoModelFactory):
    class Meta:
        model = CostCenter

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"CC{n:03d}")
    name = factory.Sequence(lambda n: f"Cost center {n}")


class GLAccountFactory(DjangoModelFactory):
    class Meta:
        model = GLAccount

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"{6000 + n}")
    name = factory.Sequence(lambda n: f"Expense {n}")


# ------------------------------------------------------------------------------ approvals


class ApprovalPolicyFactory(DjangoModelFactory):
    """An organization's approval policy; ``steps=[{...}, …]`` adds its steps, at positions
    1, 2, … in that order, each dict given to ``ApprovalStepFactory`` (``approvers=[users]``
    and ``cost_centers=[…]`` included)."""

    class Meta:
        model = ApprovalPolicy
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)

    @factory.post_generation
    def steps(obj, create, extracted, **kwargs):
        if not create:
            return
        for position, values in enumerate(extracted or [], start=1):
            ApprovalStepFactory(policy=obj, position=position, **values)


class ApprovalStepFactory(DjangoModelFactory):
    """A step of a policy (in the policy's organization: the step takes it on save), after its
    last step unless ``position`` says; ``approvers`` and ``cost_centers`` are lists to set."""

    class Meta:
        model = ApprovalStep
        skip_postgeneration_save = True

    policy = factory.SubFactory(ApprovalPolicyFactory)
    position = factory.LazyAttribute(lambda o: o.policy.steps.count() + 1)
    name = factory.Sequence(lambda n: f"Step {n}")
    threshold = Decimal("0")

    @factory.post_generation
    def approvers(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.approvers.set(extracted)

    @factory.post_generation
    def cost_centers(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.cost_centers.set(extracted)


class SpendingLimitFactory(DjangoModelFactory):
    """A spending limit: every buyer's, or one person's when ``user`` is given."""

    class Meta:
        model = SpendingLimit

    organization = factory.SubFactory(OrganizationFactory)
    user = None
    role = factory.LazyAttribute(lambda o: "" if o.user else Role.BUYER.value)
    amount = Decimal("100")


class BudgetFactory(DjangoModelFactory):
    """A budget of a cost center of the same organization for the 30 days from today, owned by
    a new approver of that organization unless ``owner`` (a user) is given."""

    class Meta:
        model = Budget

    organization = factory.SubFactory(OrganizationFactory)
    cost_center = factory.SubFactory(CostCenterFactory, organization=factory.SelfAttribute("..organization"))
    period_start = factory.LazyFunction(timezone.localdate)
    period_end = factory.LazyAttribute(lambda o: o.period_start + timedelta(days=30))
    amount = Decimal("1000")
    owner = factory.LazyAttribute(lambda o: member(o.organization, Role.APPROVER).user)


class ExchangeRateFactory(DjangoModelFactory):
    """A rate of an organization's table (EUR in its base currency, today, unless said). Like
    the table itself, one rate per pair and day: a second for the same day replaces the first."""

    class Meta:
        model = ExchangeRate

    organization = factory.SubFactory(OrganizationFactory)
    day = factory.LazyFunction(timezone.localdate)
    from_currency = "EUR"
    to_currency = factory.LazyAttribute(lambda o: o.organization.base_currency)
    rate = Decimal("1.10")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        keys = {key: kwargs.pop(key) for key in ("organization", "day", "from_currency", "to_currency")}
        return model_class.objects.update_or_create(**keys, defaults=kwargs)[0]


def _typed(values: dict, numbers=(), dates=()) -> dict:
    """Numbers and dates given as text in a test, read as a form would read them."""
    typed = dict(values)
    for name in numbers:
        if isinstance(typed.get(name), str):
            typed[name] = parse_decimal(typed[name]) if typed[name].strip() else None
    for name in dates:
        if isinstance(typed.get(name), str):
            typed[name] = date.fromisoformat(typed[name]) if typed[name] else None
    return typed


def line_input(**values) -> LineInput:
    """A draft line as ``LineForm`` reads it; numbers and dates may be given as text."""
    typed = _typed(values, numbers=("quantity", "unit_price", "tax_rate"), dates=("requested_date",))
    if typed.get("tax_rate") is None:
        typed.pop("tax_rate", None)
    typed.setdefault("cost_center", None)
    return LineInput(**typed)


def proposal_line(**values) -> ProposalLineInput:
    """What the supplier does with a line, as ``ProposalLineForm`` reads it (text numbers and dates read)."""
    numbers = ("quantity", "unit_price", "backorder_quantity")
    return ProposalLineInput(**_typed(values, numbers=numbers, dates=("promised_date", "backorder_date")))


def added_line(**values) -> AddedLineInput:
    """A line the supplier adds, as ``AddedLineForm`` reads it."""
    typed = _typed(values, numbers=("quantity", "unit_price", "tax_rate"), dates=("promised_date",))
    return AddedLineInput(**typed)


def proposal_header(**values) -> ProposalHeader:
    """The proposal's header, as ``ProposalHeaderForm`` reads it."""
    dates = ("accept_by", "confirm_ship_by", "invoice_due_date")
    typed = _typed(values, numbers=("tax_rate", "discount"), dates=dates)
    if isinstance(typed.get("payment_terms_days"), str):
        typed["payment_terms_days"] = int(typed["payment_terms_days"])
    return ProposalHeader(**typed)


def receipt_line(**values) -> ReceiptLineInput:
    """What arrived of a line, as ``ReceiptLinesForm`` reads it (text numbers read)."""
    return ReceiptLineInput(**_typed(values, numbers=("quantity", "damaged")))


def shipped(quantities: dict) -> dict:
    """{line id: quantity} of a shipment, as ``ShipmentLinesForm`` reads it (text numbers read)."""
    return _typed(quantities, numbers=list(quantities))


def listing_values(by: Membership, values: dict) -> ListingValues:
    """A listing as ``ListingForm`` reads it, from text as typed (price breaks and customer
    prices as pairs); what the form refuses is raised as ``ListingRefused``, by field, as the
    service raises its own refusals."""
    values = dict(values)
    breaks, prices = values.pop("price_breaks", None), values.pop("customer_prices", None)
    data = {name: "on" if value is True else "" if value is False else value for name, value in values.items()}
    data.setdefault("is_active", "on")
    form = ListingForm(data, supplier=by.organization)
    errors = {} if form.is_valid() else {name: messages[0] for name, messages in form.errors.items()}
    number = NumberField()
    try:
        breaks = None if breaks is None else [(number.clean(q), number.clean(p)) for q, p in breaks]
    except ValidationError as exc:
        errors["price_breaks"] = exc.messages[0]
    try:
        prices = None if prices is None else [(c, number.clean(p)) for c, p in prices]
    except ValidationError as exc:
        errors["customer_prices"] = exc.messages[0]
    if errors:
        raise ListingRefused(errors)
    return form.listing_values(price_breaks=breaks, customer_prices=prices)


def bill_line(**values) -> BillLineInput:
    """A line of a bill entered by hand, as ``BillLinesForm`` reads it (text numbers read)."""
    typed = _typed(values, numbers=("quantity", "unit_price", "tax_rate"))
    if typed.get("tax_rate") is None:
        typed.pop("tax_rate", None)
    return BillLineInput(**typed)


class Trade:
    """A customer and a supplier, connected, with a buyer, a sales person, a cost center and
    a listing: what most order tests start from."""

    def __init__(self, currency: str = "USD"):
        self.connection = ConnectionFactory(
            customer=OrganizationFactory(base_currency=currency),
            supplier=SupplierFactory(base_currency=currency),
            currency=currency,
        )
        self.customer, self.supplier = self.connection.customer, self.connection.supplier
        self.buyer = member(self.customer, Role.BUYER)
        self.customer_admin = member(self.customer, Role.ADMIN)
        self.sales = member(self.supplier, Role.SALES)
        self.cost_center = CostCenterFactory(organization=self.customer)
        self.gl_account = GLAccountFactory(organization=self.customer)
        self.listing = ListingFactory(
            supplier=self.supplier, sku="BOLT", name="Bolt", unit_price=Decimal("2.50"), currency=currency
        )

    def draft(self, *, by=None, lines=None, **header):
        from orders.services import drafts

        by = by or self.buyer
        po = drafts.create_purchase_order(by=by, connection=self.connection, **header)
        for values in lines if lines is not None else [{"listing": self.listing, "quantity": "10"}]:
            drafts.add_line(by=by, po=po, values=line_input(**{"cost_center": self.cost_center, **values}))
        po.refresh_from_db()
        return po

    def sent(self, **kwargs):
        from orders.services import submission

        po = self.draft(**kwargs)
        submission.submit_purchase_order(po=po, by=self.buyer)
        po.refresh_from_db()
        return po

    def confirmed(self, **kwargs):
        """An order the supplier accepted as sent and the buyer confirmed."""
        from orders.services import negotiation

        po = self.sent(**kwargs)
        negotiation.accept_sales_order(so=po.sales_order, by=self.sales)
        negotiation.confirm_purchase_order(po=po, by=self.buyer)
        po.refresh_from_db()
        return po

    def received(self, *, damaged: dict[int, str] | None = None, **kwargs):
        """A confirmed order shipped in full and received: every line in good condition, but for
        ``damaged`` (line position → units noted damaged at receipt)."""
        from django.utils import timezone

        from orders.services import fulfilment

        if not hasattr(self, "shipper"):
            self.shipper = member(self.supplier, Role.FULFILMENT)
            self.receiver = member(self.customer, Role.RECEIVER)
        po = self.confirmed(**kwargs)
        lines = list(po.lines.order_by("position"))
        shipment = fulfilment.record_shipment(
            so=po.sales_order,
            by=self.shipper,
            lines={line.pk: line.quantity for line in lines},
            shipped_on=timezone.localdate(),
        )
        values = {}
        for line in lines:
            hurt = Decimal((damaged or {}).get(line.position, "0"))
            values[line.pk] = receipt_line(
                quantity=str(line.quantity - hurt), damaged=str(hurt) if hurt else "", reason="Cracked" if hurt else ""
            )
        fulfilment.record_receipt(
            po=po, by=self.receiver, lines=values, shipment=shipment, received_on=timezone.localdate()
        )
        po.refresh_from_db()
        return po

    def paid(self, po, amount=None):
        """The order's bill paid in full by payables and verified by the supplier's receivables."""
        from django.utils import timezone

        from billing.models import Bill
        from billing.services.documents import issue_documents
        from billing.services.payments import record_payment, verify_payment

        if not hasattr(self, "payables"):
            self.payables = member(self.customer, Role.PAYABLES)
            self.receivables = member(self.supplier, Role.RECEIVABLES)
        issue_documents(po=po)  # the task runs after commit, which a test never reaches
        bill = Bill.objects.get(purchase_order=po)
        payment = record_payment(
            bill=bill,
            by=self.payables,
            amount=amount or bill.total,
            paid_on=timezone.localdate(),
            method="bank_transfer",
        )
        verify_payment(payment=payment, by=self.receivables, amount_received=payment.amount)
        po.refresh_from_db()
        return payment
