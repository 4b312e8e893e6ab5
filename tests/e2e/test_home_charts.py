"""Home's charts in a browser: the demo buyer and the demo supplier see theirs, drawn within the
page at a laptop's and a phone's width. Screenshots: test-results/home/."""

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "home"


@pytest.mark.parametrize(
    ("email", "charts"),
    [
        ("admin@northwind.example", ["Spend by month", "Spend by supplier", "Budget use per cost center"]),
        ("admin@acme.example", ["Sales by month", "Sales by customer"]),
    ],
)
def test_the_demo_home_shows_its_charts_on_a_laptop_and_a_phone(live_server, browser, email, charts):
    call_command("seed_demo", verbosity=0)
    for width, height in ((1366, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("E-mail").press_sequentially(email, delay=20)
        page.get_by_label("Password").press_sequentially("demo", delay=20)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Figures")).to_be_visible()
        for title in charts:
            chart = page.get_by_role("group", name=title)
            chart.scroll_into_view_if_needed()
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (title, width, box)
            assert box["height"] > 60
        # nothing is wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        bars = page.locator("svg.chart-svg rect")
        assert bars.count() > 12
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{email.split('@')[1].split('.')[0]}-{width}.png"), full_page=True)
        # the numbers open as a table, whose cells link to the lists
        first = page.locator("details.chart-numbers").first
        first.locator("summary").click()
        expect(first.locator("table")).to_be_visible()
        context.close()
