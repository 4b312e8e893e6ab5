"""Sessions end when idle or old, and one address cannot spray passwords at every account."""

import time

import pytest
from django.urls import reverse

from accounts.middleware import IdleSessionMiddleware
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def test_one_address_spraying_passwords_at_many_accounts_is_paused_for_all(client, settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_IP_FAILURE_LIMIT = 12
    org = OrganizationFactory()
    victims = [member(org) for _ in range(4)]
    url = reverse("accounts:login")
    attempts = [victim for victim in victims[:3] for _ in range(4)]  # never five at one account
    for number, victim in enumerate(attempts, start=1):
        response = client.post(url, {"username": victim.user.email, "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
        assert response.status_code == (429 if number == 12 else 200)
    # Twelve failures from this address: even the right password of another account waits.
    paused = client.post(url, {"username": victims[3].user.email, "password": "demo"}, REMOTE_ADDR="10.9.9.9")
    assert paused.status_code == 429
    assert "Too many failed log-ins" in paused.content.decode()
    # Everyone else, from their own address, gets in.
    ok = client.post(url, {"username": victims[3].user.email, "password": "demo"}, REMOTE_ADDR="10.1.1.1")
    assert ok.status_code == 302


def test_a_few_mistakes_from_a_shared_office_address_lock_nobody(client, settings):
    settings.AXES_IP_FAILURE_LIMIT = 12
    org = OrganizationFactory()
    people = [member(org) for _ in range(3)]
    url = reverse("accounts:login")
    for person in people:
        client.post(url, {"username": person.user.email, "password": "typo"}, REMOTE_ADDR="10.2.2.2")
        assert (
            client.post(url, {"username": person.user.email, "password": "demo"}, REMOTE_ADDR="10.2.2.2").status_code
            == 302
        )
        client.logout()


def _age_session(client, **seconds_ago):
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_a_session_ends_after_the_idle_time_and_says_why(client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    m = member(OrganizationFactory())
    client.force_login(m.user)
    home = reverse("home:org-home", args=[m.organization.slug])
    assert client.get(home).status_code == 200
    _age_session(client, **{IdleSessionMiddleware.LAST_SEEN: 29 * 60})
    assert client.get(home).status_code == 200  # 29 minutes: still in, and the clock starts again
    _age_session(client, **{IdleSessionMiddleware.LAST_SEEN: 31 * 60})
    response = client.get(home, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert "logged out after 30 minutes without activity" in response.content.decode()
    assert client.get(home).status_code == 302


def test_a_busy_session_still_ends_after_its_maximum_age(client, settings):
    settings.SESSION_MAX_HOURS = 12
    m = member(OrganizationFactory())
    client.force_login(m.user)
    home = reverse("home:org-home", args=[m.organization.slug])
    client.get(home)
    _age_session(client, **{IdleSessionMiddleware.STARTED: 12 * 3600 + 5, IdleSessionMiddleware.LAST_SEEN: 10})
    response = client.get(home, follow=True)
    assert "sessions end after 12 hours" in response.content.decode()
    assert client.get(home).status_code == 302


def test_the_last_request_is_written_at_most_once_a_minute(client):
    m = member(OrganizationFactory())
    client.force_login(m.user)
    home = reverse("home:org-home", args=[m.organization.slug])
    client.get(home)
    first = client.session[IdleSessionMiddleware.LAST_SEEN]
    client.get(home)
    assert client.session[IdleSessionMiddleware.LAST_SEEN] == first


def test_behind_the_proxy_each_client_is_counted_by_the_address_the_proxy_gives(client, settings):
    """Every request reaches the app from the proxy's address: throttling must count the client's."""
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_IP_FAILURE_LIMIT = 6
    org = OrganizationFactory()
    victim, other = member(org), member(org)
    url = reverse("accounts:login")
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    for _ in range(3):  # an attacker locks the (victim, attacker's address) pair…
        client.post(url, {"username": victim.user.email, "password": "x"}, HTTP_X_REAL_IP="203.0.113.9", **proxy)
    for _ in range(3):  # …and sprays another account until the attacker's address is paused
        client.post(url, {"username": other.user.email, "password": "x"}, HTTP_X_REAL_IP="203.0.113.9", **proxy)
    attacker = client.post(
        url, {"username": other.user.email, "password": "demo"}, HTTP_X_REAL_IP="203.0.113.9", **proxy
    )
    assert attacker.status_code == 429
    # The victim, from their own address through the same proxy, is not locked out.
    ok = client.post(url, {"username": victim.user.email, "password": "demo"}, HTTP_X_REAL_IP="198.51.100.7", **proxy)
    assert ok.status_code == 302
