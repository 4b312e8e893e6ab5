"""The main pages of the demo in Chromium with the Content-Security-Policy on: no violation is
reported (``securitypolicyviolation`` events and console errors), and what needs JavaScript still
works — the user menu's dropdown, the navigation toggler on a phone, a message's close button,
the listings' htmx filter, the payments filter that sends itself, the Django admin's calendar. Screenshots:
test-results/security-headers/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from approvals.models import ApprovalRequest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "security-headers"

# An init script is injected through the DevTools protocol, so the policy does not apply to it:
# it reports every violation of every page the tab loads to Python (exposed binding below).
LISTEN = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.reportViolation([e.violatedDirective, e.blockedURI, e.sourceFile + ":" + e.lineNumber, e.sample].join(" | "));
}, true);
"""


class Watched:
    """A logged-in page whose violations, console errors and warnings and page errors are kept."""

    def __init__(self, browser, base, email, width=1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        self.problems: list[str] = []
        context.expose_binding("reportViolation", lambda source, text: self.problems.append(f"CSP: {text}"))
        context.add_init_script(LISTEN)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.base = base
        self.visit("/login/", f"00-log-in-{width}")  # the log-in page is watched too
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Password").fill("demo")
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("button", name="Log in")).to_have_count(0)

    def _console(self, message):
        if message.location.get("url", "").endswith("/favicon.ico"):
            return  # the Django admin's pages name no icon, so Chromium asks for /favicon.ico (404)
        if message.type in {"error", "warning"}:
            self.problems.append(f"console {message.type}: {message.text}")

    def visit(self, path, name):
        response = self.page.goto(f"{self.base}{path}")
        assert response.status == 200, path
        policy = response.header_value("content-security-policy") or ""
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, (path, policy)
        assert "unsafe-inline" not in policy
        self.page.wait_for_load_state("load")
        self.page.evaluate("() => new Promise(requestAnimationFrame)")  # htmx and Bootstrap have run
        self.shot(name)
        assert not self.problems, f"{path}:\n" + "\n".join(self.problems)

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_main_pages_report_no_policy_violation_and_their_widgets_work(live_server, browser):
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    waiting = ApprovalRequest.objects.get(status="pending")

    buyer = Watched(browser, base, "admin@northwind.example")
    buyer.visit("/o/northwind/", "01-northwind-home")
    # The user menu is a Bootstrap dropdown (Popper positions it through the CSSOM).
    menu = buyer.page.get_by_role("link", name="Your account")
    expect(menu).to_be_hidden()
    buyer.page.locator("#user-menu").click()
    expect(menu).to_be_visible()
    buyer.shot("02-user-menu-open")
    buyer.page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    buyer.visit("/o/northwind/purchase-orders/", "03-po-list")
    buyer.visit("/o/northwind/purchase-orders/PO-000005/", "04-po-shipped")
    buyer.visit("/o/northwind/purchase-orders/PO-000001/", "05-po-draft")
    buyer.visit("/o/northwind/bills/", "06-bills")
    buyer.visit("/o/northwind/bills/BILL-000001/", "07-bill")
    buyer.visit("/o/northwind/approvals/", "08-approvals")
    buyer.visit(f"/o/northwind/approvals/{waiting.pk}/", "09-approval-request")
    buyer.visit("/o/northwind/budgets/", "10-budgets")
    # The bars' widths come from classes now (OPS is 7 % used): some bar is drawn.
    widths = [box["width"] for box in (bar.bounding_box() for bar in buyer.page.locator(".progress-bar").all()) if box]
    assert widths and max(widths) > 0, widths
    buyer.visit("/o/northwind/settings/", "11-settings")
    # Saving (nothing changed) brings a message; its close button is Bootstrap's alert dismissal.
    buyer.page.get_by_role("button", name="Save settings").click()
    alert = buyer.page.get_by_role("alert").filter(has_text="Settings saved.")
    expect(alert).to_be_visible()
    alert.get_by_role("button", name="Close").click()
    expect(alert).to_have_count(0)
    buyer.visit("/admin/", "12-admin-index")
    buyer.visit("/admin/approvals/budget/", "13-admin-budgets")
    buyer.visit("/admin/approvals/budget/add/", "14-admin-budget-add")
    # The admin's calendar is built by its own script (DateTimeShortcuts.js) from files, styled
    # through the CSSOM: it opens under the policy.
    buyer.page.locator(".datetimeshortcuts a", has_text="Today").first.click()
    assert re.match(r"\d{4}-\d{2}-\d{2}", buyer.page.locator("input.vDateField").first.input_value())
    buyer.page.locator(".datetimeshortcuts a[id^=calendarlink]").nth(1).click()
    calendar = buyer.page.locator(".calendarbox").nth(1)
    expect(calendar).to_be_visible()
    calendar.get_by_role("link", name="Cancel").click()
    expect(calendar).to_be_hidden()
    # The related-object popup (a same-origin window: Cross-Origin-Opener-Policy keeps its opener)
    # adds a cost center and hands it back to the form through popup_response.js.
    with buyer.page.expect_popup() as opened:
        buyer.page.locator("#add_id_cost_center").click()
    popup = opened.value
    popup.on("console", buyer._console)
    popup.get_by_label("Code").fill("CSP")
    popup.get_by_label("Name").fill("Headers")
    with popup.expect_event("close"):
        popup.get_by_role("button", name="Save", exact=True).click()
    expect(buyer.page.locator("#id_cost_center option:checked")).to_contain_text("CSP")
    assert not buyer.problems, buyer.problems

    supplier = Watched(browser, base, "admin@acme.example")
    supplier.visit("/o/acme/sales-orders/SO-000001/", "15-so")
    supplier.visit("/o/acme/invoices/", "16-invoices")
    supplier.visit("/o/acme/payments/", "17-payments")
    # The status filter sends its form when changed (a listener, not onchange=).
    with supplier.page.expect_navigation():
        supplier.page.get_by_label("Status").select_option(index=1)
    assert "status=" in supplier.page.url
    supplier.visit("/o/acme/listings/", "18-listings")
    # The listings' filter is htmx: typing replaces the table in place, no violation.
    rows_before = supplier.page.locator("table tbody tr").count()
    with supplier.page.expect_response(lambda r: "/o/acme/listings/" in r.url and "q=" in r.url):
        supplier.page.get_by_role("searchbox").fill("glove")
    expect(supplier.page.locator("table tbody tr")).not_to_have_count(rows_before)
    supplier.shot("19-listings-filtered")
    assert not supplier.problems, supplier.problems

    # On a phone the navigation folds behind the toggler (Bootstrap's collapse).
    phone = Watched(browser, base, "buyer@northwind.example", width=390)
    phone.visit("/o/northwind/", "20-phone-home")
    nav_link = phone.page.get_by_role("link", name="Purchase orders", exact=True)
    expect(nav_link).to_be_hidden()
    phone.page.get_by_role("button", name="Show navigation").click()
    expect(nav_link).to_be_visible()
    phone.shot("21-phone-navigation-open")
    nav_link.click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("Purchase orders")
    assert not phone.problems, phone.problems
