"""Browser journey (Playwright driving Debian's Chromium): a buyer signs up and invites a
supplier; the supplier signs up through the invitation, accepts, and publishes a listing.
Screenshots of each step are kept under test-results/onboarding/."""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Connection
from orders.models import Listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "onboarding"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_buyer_invites_supplier_who_signs_up_accepts_and_lists(live_server, browser):
    base = live_server.url
    buyer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    buyer.goto(f"{base}/signup/")
    buyer.get_by_label("Your name").fill("Bea Buyer")
    buyer.get_by_label("Work e-mail").fill("bea@harbor.example")
    buyer.get_by_label("Password", exact=True).fill("harbor-pass-2026")
    buyer.get_by_label("Password again").fill("harbor-pass-2026")
    buyer.get_by_label("Organization name").fill("Harbor Foods")
    buyer.get_by_label("Base currency").select_option("USD")
    shot(buyer, "01-buyer-signup")
    buyer.get_by_role("button", name="Create account").click()
    expect(buyer.get_by_role("heading", name="Harbor Foods")).to_be_visible()
    shot(buyer, "02-buyer-home")

    buyer.get_by_role("link", name="Invite a supplier").first.click()
    buyer.get_by_label("Supplier's e-mail").fill("sam@crate.example")
    buyer.get_by_label("Payment terms (net days)").fill("45")
    buyer.get_by_label("Message (optional)").fill("We would like to order crates from you.")
    buyer.get_by_role("button", name="Send invitation").click()
    expect(buyer.get_by_role("alert")).to_contain_text("Invitation sent to sam@crate.example")
    shot(buyer, "03-invitation-sent")

    invitation = next(m for m in mail.outbox if "sam@crate.example" in m.to)
    link = re.search(r"https?://\S+(/invitations/connect/\S+/)", invitation.body).group(1)

    supplier = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # on a phone
    supplier.goto(f"{base}{link}")
    heading = supplier.get_by_role("heading", name="Harbor Foods invites you to be their supplier")
    expect(heading).to_be_visible()
    shot(supplier, "04-supplier-invitation")
    supplier.get_by_role("link", name="Sign up and accept").click()
    expect(supplier.get_by_label("Work e-mail")).to_have_value("sam@crate.example")
    supplier.get_by_label("Your name").fill("Sam Seller")
    supplier.get_by_label("Password", exact=True).fill("crate-pass-2026")
    supplier.get_by_label("Password again").fill("crate-pass-2026")
    supplier.get_by_label("Organization name").fill("Crate & Co")
    supplier.get_by_role("button", name="Create account").click()
    expect(supplier.get_by_label("Accept for")).to_have_value("crate-co")
    shot(supplier, "05-supplier-accepts")
    supplier.get_by_role("button", name="Accept invitation").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Crate & Co is now a supplier of Harbor Foods")
    connection = Connection.objects.get()
    assert (connection.status, connection.payment_terms_days) == ("active", 45)

    supplier.goto(f"{base}/o/crate-co/listings/new/")
    supplier.get_by_label("SKU").fill("CR-100")
    supplier.get_by_label("Name").fill("Wooden crate 60×40")
    supplier.get_by_label("Unit price").first.fill("12.999")
    supplier.get_by_role("button", name="Save listing").click()
    expect(supplier.get_by_text("USD amounts have at most 2 decimals")).to_be_visible()
    expect(supplier.get_by_label("SKU")).to_have_value("CR-100")  # what was typed is kept
    shot(supplier, "06-listing-error")
    supplier.get_by_label("Unit price").first.fill("12.90")
    supplier.locator("#id_breaks-0-min_quantity").fill("50")
    supplier.locator("#id_breaks-0-unit_price").fill("11.50")
    supplier.get_by_role("button", name="Save listing").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Listing CR-100 saved.")
    shot(supplier, "07-listings")
    listing = Listing.objects.get()
    assert listing.supplier.name == "Crate & Co" and listing.price_breaks.count() == 1

    buyer.goto(f"{base}/o/harbor-foods/connections/")
    expect(buyer.get_by_role("link", name="Crate & Co")).to_be_visible()
    shot(buyer, "08-buyer-sees-supplier")
