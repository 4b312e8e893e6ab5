"""PDFs of the order pair (WeasyPrint): the purchase order and the supplier's acknowledgement.

Rendering reads only the project's own static files: the fetcher refuses every other URL,
so nothing a user typed can make the renderer reach the network or the file system.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .models import PurchaseOrder

STATIC_SCHEME = "tandem-static:/"


class StaticFilesOnly(URLFetcher):
    """Serves ``tandem-static:/<path>`` from our static files; refuses anything else."""

    def fetch(self, url, headers=None):
        if not url.startswith(STATIC_SCHEME):
            raise ValueError(f"PDFs use only Tandem's own static files, not {url[:80]!r}")
        relative = url.removeprefix(STATIC_SCHEME)
        try:
            path = finders.find(relative)
        except SuspiciousFileOperation:
            path = None
        if not path:
            raise ValueError(f"no static file {relative!r}")
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=Path(path).read_bytes(), headers={"Content-Type": mime})


def render_pdf(template: str, context: dict) -> bytes:
    html = render_to_string(template, {"static": STATIC_SCHEME, **context})
    return HTML(string=html, base_url=STATIC_SCHEME, url_fetcher=StaticFilesOnly()).write_pdf()


def _context(po: PurchaseOrder) -> dict:
    return {
        "po": po,
        "so": getattr(po, "sales_order", None),
        "lines": list(po.lines.all()),
    }


def purchase_order_pdf(po: PurchaseOrder) -> bytes:
    return render_pdf("orders/pdf/purchase_order.html", _context(po))


def acknowledgement_pdf(po: PurchaseOrder) -> bytes:
    """The supplier's sales-order acknowledgement of the accepted order."""
    return render_pdf("orders/pdf/acknowledgement.html", _context(po))


def purchase_order_attachment(*, pk: int, revision: int = 0) -> tuple[str, bytes, str]:
    """The PO PDF as an e-mail attachment (named in settings.EMAIL_ATTACHMENT_RENDERERS)."""
    po = PurchaseOrder.objects.select_related("customer", "supplier", "sales_order").get(pk=pk)
    suffix = f"-rev{revision}" if revision > 1 else ""
    return f"{po.number}{suffix}.pdf", purchase_order_pdf(po), "application/pdf"
