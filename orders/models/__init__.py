"""The orders app's models, one module per sub-domain; Django finds them through this package."""

from .accounting import AccountingCode, CostCenter, GLAccount
from .amendments import Amendment, AmendmentLine
from .fulfilment import Receipt, ReceiptLine, Shipment, ShipmentLine
from .listings import CustomerPrice, Listing, ListingImport, PriceBreak
from .purchase import LineValues, PurchaseOrder, PurchaseOrderLine, SalesOrder
from .returns import ReturnAttachment, ReturnLine, ReturnRequest
from .revisions import Proposal, ProposalLine, Revision, RevisionLine
from .thread import InternalNote, OrderEvent

__all__ = [
    "AccountingCode",
    "Amendment",
    "AmendmentLine",
    "CostCenter",
    "CustomerPrice",
    "GLAccount",
    "InternalNote",
    "LineValues",
    "Listing",
    "ListingImport",
    "OrderEvent",
    "PriceBreak",
    "Proposal",
    "ProposalLine",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Receipt",
    "ReceiptLine",
    "ReturnAttachment",
    "ReturnLine",
    "ReturnRequest",
    "Revision",
    "RevisionLine",
    "SalesOrder",
    "Shipment",
    "ShipmentLine",
]
