"""Roles and the permissions they grant: the one table of SPEC §2.

Permissions are Django-style codenames (``app_label.action_model``), checked against the
roles of the membership in the active organization (``Membership.has_perm``). Rights that
belong to one object rather than a role (an approver of one request, the requester of one
draft) are django-guardian object permissions, checked by ``accounts.permissions.require``.
"""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    BUYER = "buyer", "Buyer"
    APPROVER = "approver", "Approver"
    RECEIVER = "receiver", "Receiver"
    PAYABLES = "payables", "Accounts payable"
    SALES = "sales", "Sales"
    FULFILMENT = "fulfilment", "Fulfilment"
    RECEIVABLES = "receivables", "Accounts receivable"


ROLE_HELP = {
    Role.ADMIN: "Everything, including members, connections and settings.",
    Role.BUYER: "Creates, submits and confirms purchase orders.",
    Role.APPROVER: "Approves or rejects purchase orders when assigned.",
    Role.RECEIVER: "Records goods received.",
    Role.PAYABLES: "Pays bills and matches them to orders.",
    Role.SALES: "Manages listings; reviews, adjusts and accepts sales orders.",
    Role.FULFILMENT: "Records shipments.",
    Role.RECEIVABLES: "Verifies or disputes payments received.",
}

# Roles that make sense only in an organization that buys, or one that sells.
BUYING_ROLES = frozenset({Role.BUYER, Role.APPROVER, Role.RECEIVER, Role.PAYABLES})
SELLING_ROLES = frozenset({Role.SALES, Role.FULFILMENT, Role.RECEIVABLES})

_A, _B, _AP, _R, _P = Role.ADMIN, Role.BUYER, Role.APPROVER, Role.RECEIVER, Role.PAYABLES
_S, _F, _RV = Role.SALES, Role.FULFILMENT, Role.RECEIVABLES

# (codenames, the roles granting them, the capability the organization needs: buys / sells)
_ROWS: list[tuple[tuple[str, ...], frozenset[Role], str | None]] = [
    # view POs / bills
    (("orders.view_purchaseorder", "billing.view_bill"), frozenset({_A, _B, _AP, _R, _P}), "buys"),
    # create / edit own draft PO, submit, confirm, request changes, cancel
    (
        (
            "orders.add_purchaseorder",
            "orders.change_purchaseorder",
            "orders.submit_purchaseorder",
            "orders.confirm_purchaseorder",
            "orders.request_changes_purchaseorder",
            "orders.cancel_purchaseorder",
            "orders.add_amendment",
        ),
        frozenset({_A, _B}),
        "buys",
    ),
    # approve / reject (when assigned: an object permission says which request)
    (("approvals.approve_approvalrequest",), frozenset({_A, _AP}), "buys"),
    # record receipt
    (("orders.add_receipt",), frozenset({_A, _R}), "buys"),
    # request a return of received goods, withdraw it, ship it back
    (("orders.add_returnrequest",), frozenset({_A, _B, _R}), "buys"),
    # record bill payment, enter bills by hand, edit bill notes/due date/reference, match, cancel
    (
        ("billing.add_payment", "billing.add_bill", "billing.change_bill", "billing.match_bill", "billing.cancel_bill"),
        frozenset({_A, _P}),
        "buys",
    ),
    # mark a PO billed by hand (the PO's requester may too: checked on the object)
    (("orders.mark_billed_purchaseorder",), frozenset({_A}), "buys"),
    # view SOs / invoices, manage listings
    (
        (
            "orders.view_salesorder",
            "billing.view_invoice",
            "orders.view_listing",
            "orders.add_listing",
            "orders.change_listing",
        ),
        frozenset({_A, _S, _F, _RV}),
        "sells",
    ),
    # adjust / accept / decline SO
    (
        (
            "orders.change_salesorder",
            "orders.accept_salesorder",
            "orders.decline_salesorder",
            "orders.accept_amendment",
        ),
        frozenset({_A, _S}),
        "sells",
    ),
    # record shipment
    (("orders.add_shipment",), frozenset({_A, _F}), "sells"),
    # authorize (RMA) or decline a return
    (("orders.answer_returnrequest",), frozenset({_A, _S}), "sells"),
    # record what arrived back of a return
    (("orders.receive_returnrequest",), frozenset({_A, _S, _F}), "sells"),
    # verify / dispute payment
    (("billing.verify_payment",), frozenset({_A, _RV}), "sells"),
    # manage members, connections, approval policy (and the organization's settings)
    (
        (
            "accounts.manage_members",
            "accounts.manage_connections",
            "accounts.change_organization",
            "approvals.change_approvalpolicy",
        ),
        frozenset({_A}),
        None,
    ),
]

PERMISSIONS: dict[str, frozenset[Role]] = {codename: roles for codenames, roles, _ in _ROWS for codename in codenames}
CAPABILITY: dict[str, str | None] = {
    codename: capability for codenames, _, capability in _ROWS for codename in codenames
}


def roles_granting(permission: str) -> frozenset[Role]:
    try:
        return PERMISSIONS[permission]
    except KeyError:
        raise LookupError(f"unknown permission {permission!r}: add it to accounts.roles") from None


def grants(roles: list[str] | frozenset[str], permission: str) -> bool:
    return not roles_granting(permission).isdisjoint(roles)
