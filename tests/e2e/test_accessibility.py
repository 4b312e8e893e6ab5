"""Accessibility and layout of the main pages, in Chromium, at a desktop (1366x900) and a phone
(390x844) size, with the demo data.

- axe-core (vendored: tests/e2e/vendor/axe-core/) runs on every main page as each demo role sees
  it; a violation of impact "serious" or "critical" fails the test, listed with its rule, the
  element and what to fix. It is injected through the DevTools protocol (``page.evaluate``), so the
  pages keep their Content-Security-Policy.
- On a phone the money stays in view: the purchase orders' Total, the order lines' Amount (each
  line a stacked card) and the bill's amounts; on a desktop the confirmed order's lines show every
  column, Invoiced and Coding included, without scrolling sideways, and the thread sits below them.

Screenshots: test-results/accessibility/.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from approvals.models import ApprovalRequest
from billing.models import Bill, Payment
from orders.models import PurchaseOrder
from orders.services import returns

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text()
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "accessibility"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary || ""})),
  }));
}"""


def log_in(browser, base, email, viewport):
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)
    return page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations of the page, one readable line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE)
    lines = []
    for v in page.evaluate(RUN_AXE):
        if v["impact"] not in {"serious", "critical"}:
            continue
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"  [{v['impact']}] {v['id']} ({v['help']}): {node['target']} :: {summary}")
    return lines


def demo_returns() -> None:
    """Two returns of PO-000005 (Acme's SO-000003), through the services: the goggles noted
    damaged wait for Acme's answer; a roll of stretch film, authorized, is on its way back."""
    po = PurchaseOrder.objects.get(customer__slug="northwind", number="PO-000005")
    receiver = Membership.objects.get(user__email="receiver@northwind.example", organization=po.customer)
    sales = Membership.objects.get(user__email="sales@acme.example", organization=po.supplier)
    goggles, film = po.lines.order_by("position")
    today = timezone.localdate()
    returns.request_return(
        po=po,
        by=receiver,
        lines={goggles.pk: Decimal("1")},
        reason="damaged",
        resolution="credit",
        reason_text="Cracked",
    )
    second = returns.request_return(
        po=po, by=receiver, lines={film.pk: Decimal("1")}, reason="surplus", resolution="credit"
    )
    returns.accept_return(return_request=second, by=sales, instructions="Dock 2")
    returns.ship_return(return_request=second, by=receiver, shipped_on=today, carrier="DHL")


def demo_pages():
    """(e-mail, paths) of the main pages, each as the role that works on it."""
    pending = ApprovalRequest.objects.get(status="pending")
    to_verify = Payment.objects.filter(status="pending", supplier__slug="acme").order_by("pk").first()
    by_hand = Bill.objects.get(customer__slug="northwind", purchase_order=None)
    return [
        (
            "buyer@northwind.example",
            [
                "/o/northwind/",
                "/o/northwind/purchase-orders/",
                "/o/northwind/purchase-orders/new/",
                "/o/northwind/purchase-orders/PO-000001/",  # draft, with the line editor
                "/o/northwind/purchase-orders/PO-000002/",  # sent
                "/o/northwind/purchase-orders/PO-000003/",  # accepted with changes (redline)
                "/o/northwind/purchase-orders/PO-000004/",  # waiting for approval
                "/o/northwind/purchase-orders/PO-000005/",  # partly received, bill, payments
                "/o/northwind/purchase-orders/PO-000007/",  # confirmed, bill and open amendment
                "/o/northwind/purchase-orders/PO-000007/revisions/",
                "/o/northwind/purchase-orders/PO-000007/amendments/",
                "/o/northwind/purchase-orders/PO-000005/returns/",  # one return asked, one on its way back
                "/o/northwind/budgets/",
            ],
        ),
        ("approver@northwind.example", ["/o/northwind/approvals/", f"/o/northwind/approvals/{pending.pk}/"]),
        (
            "receiver@northwind.example",
            [
                "/o/northwind/",
                "/o/northwind/purchase-orders/PO-000005/receive/",
                "/o/northwind/purchase-orders/PO-000005/returns/new/",
            ],
        ),
        (
            "payables@northwind.example",
            [
                "/o/northwind/bills/",
                "/o/northwind/bills/BILL-000001/",  # partly paid: the payment form
                "/o/northwind/bills/BILL-000003/",  # locked to its order (the grey lock box)
                f"/o/northwind/bills/{by_hand.number}/",  # entered by hand, matched to orders
                "/o/northwind/bills/new/",
                "/o/northwind/fx/",
            ],
        ),
        ("payables@bluebird.example", ["/o/bluebird/bills/BILL-000001/"]),  # in EUR: the exchange section
        (
            "admin@northwind.example",
            ["/o/northwind/settings/", "/o/northwind/members/", "/o/northwind/connections/"],
        ),
        (
            "sales@acme.example",
            [
                "/o/acme/",
                "/o/acme/sales-orders/",
                "/o/acme/sales-orders/SO-000001/",  # to review: the proposal form
                "/o/acme/sales-orders/SO-000005/",  # confirmed, with an amendment to answer
                "/o/acme/sales-orders/SO-000003/returns/",  # a return to answer
                "/o/acme/sales-orders/SO-000003/returns/1/accept/",
                "/o/acme/listings/",
                "/o/acme/listings/new/",
            ],
        ),
        (
            "fulfilment@acme.example",
            [
                "/o/acme/sales-orders/SO-000003/",
                "/o/acme/sales-orders/SO-000005/ship/",
                "/o/acme/sales-orders/SO-000003/returns/2/receive/",
            ],
        ),
        (
            "receivables@acme.example",
            [
                "/o/acme/invoices/",
                "/o/acme/invoices/INV-000001/",
                "/o/acme/payments/",
                *([f"/o/acme/payments/{to_verify.pk}/verify/"] if to_verify else []),
            ],
        ),
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_have_no_serious_accessibility_violations(live_server, browser, viewport):
    call_command("seed_demo", verbosity=0)
    demo_returns()
    base = live_server.url
    size = f"{viewport['width']}x{viewport['height']}"
    found, visited = [], 0

    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{base}/login/")
    found += [f"/login/ at {size}:", *problems] if (problems := serious_violations(page)) else []
    page.context.close()

    for email, paths in demo_pages():
        page = log_in(browser, base, email, viewport)
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response.status == 200, f"{email} GET {path} answered {response.status}"
            page.wait_for_load_state("load")
            page.evaluate("() => new Promise(requestAnimationFrame)")  # htmx and Bootstrap have run
            visited += 1
            if problems := serious_violations(page):
                found += [f"{path} as {email} at {size}:", *problems]
                shot(page, f"violation-{viewport['width']}-{email.split('@')[0]}-{path.strip('/').replace('/', '-')}")
        page.context.close()
    assert visited >= 35
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


# For each cell of the column headed `label` in the tables matched by `selector`: where it is, and
# whether a focusable, labelled region (a table that scrolls sideways) holds it.
CELLS = """([selector, label]) => {
  const cells = [];
  for (const table of document.querySelectorAll(selector)) {
    const heads = [...table.tHead.rows[0].cells];
    const index = heads.findIndex(th => th.textContent.trim().startsWith(label));
    if (index < 0) continue;
    for (const row of table.tBodies[0].rows) {
      const cell = row.cells[index];
      if (!cell) continue;
      const box = cell.getBoundingClientRect();
      const region = cell.closest("[role=region]");
      cells.push({
        text: cell.textContent.trim(), left: box.left, right: box.right, width: box.width,
        region: !!region && region.tabIndex >= 0 && !!region.getAttribute("aria-label"),
      });
    }
  }
  return cells;
}"""


def column(page, selector, label):
    cells = page.evaluate(CELLS, [selector, label])
    assert cells, f"no column {label!r} in {selector} on {page.url}"
    return cells


def in_view(page, cell):
    return cell["width"] > 0 and cell["left"] >= 0 and cell["right"] <= page.viewport_size["width"] + 0.5


def test_money_is_in_view_on_a_phone(live_server, browser):
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    page = log_in(browser, base, "buyer@northwind.example", PHONE)

    page.goto(f"{base}/o/northwind/purchase-orders/")
    shot(page, "phone-po-list")
    totals = column(page, "#order-results table", "Total")
    hidden = [c["text"] for c in totals if not (in_view(page, c) or c["region"])]
    assert not hidden, f"PO list totals cut off, and not in a focusable labelled scroll region: {hidden}"

    page.goto(f"{base}/o/northwind/purchase-orders/PO-000007/")
    shot(page, "phone-po-confirmed")
    amounts = column(page, "table#lines", "Amount")
    assert len(amounts) == 2
    # Each line is a card: its amount is on screen, not behind a sideways scroll.
    assert all(in_view(page, c) for c in amounts), amounts
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    first = page.locator("table#lines tbody tr").first
    expect(first).to_contain_text("119.00 USD")
    card = first.bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"], card

    page.context.close()
    page = log_in(browser, base, "payables@northwind.example", PHONE)
    for number in ("BILL-000001", "BILL-000004"):  # made from an order, and entered by hand
        page.goto(f"{base}/o/northwind/bills/{number}/")
        shot(page, f"phone-{number}")
        amounts = column(page, "main table", "Amount")
        hidden = [c["text"] for c in amounts if not (in_view(page, c) or c["region"])]
        assert not hidden, f"{number}: amounts cut off, and not in a focusable labelled scroll region: {hidden}"
        total = page.locator("main table tfoot tr").last.locator("td", has_text=re.compile(r"\d\.\d\d"))
        expect(total).to_have_count(1)
        box = total.bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"] + 0.5, (number, box)
    page.goto(f"{base}/o/northwind/bills/")
    shot(page, "phone-bill-list")
    totals = column(page, "#order-results table", "Total")
    assert all(in_view(page, c) or c["region"] for c in totals), totals


def test_the_confirmed_order_shows_every_column_on_a_desktop_with_the_thread_below(live_server, browser):
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    page = log_in(browser, base, "buyer@northwind.example", DESKTOP)
    page.goto(f"{base}/o/northwind/purchase-orders/PO-000007/")
    shot(page, "desktop-po-confirmed")
    width = DESKTOP["width"]
    lines = page.locator("table#lines")
    for label in ("Amount", "Shipped", "Received", "Invoiced", "Coding"):
        header = lines.locator("thead th", has_text=label)
        expect(header).to_be_visible()
        box = header.bounding_box()
        assert box["x"] + box["width"] <= width, (label, box)
        assert all(in_view(page, c) for c in column(page, "table#lines", label)), label
    # Nothing of the table is behind a sideways scroll.
    wrapper = page.locator("table#lines").evaluate(
        "table => [table.parentElement.scrollWidth, table.parentElement.clientWidth]"
    )
    assert wrapper[0] <= wrapper[1], wrapper
    # The thread is below the lines, not beside them, and the page is not a long side column.
    table = lines.bounding_box()
    thread = page.locator("#thread").bounding_box()
    assert thread["y"] >= table["y"] + table["height"], (thread, table)
    assert table["width"] >= 0.9 * page.locator("main").bounding_box()["width"] - 48, table
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2500, f"the order page is {height} px tall at {width} px"
