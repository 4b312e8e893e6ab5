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
    home = reverse("accounts:org-home", args=[m.organization.slug])
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
    home = reverse("accounts:org-home", args=[m.organization.slug])
    client.get(home)
    _age_session(client, **{IdleSessionMiddleware.STARTED: 12 * 3600 + 5, IdleSessionMiddleware.LAST_SEEN: 10})
    response = client.get(home, follow=True)
    assert "sessions end after 12 hours" in response.content.decode()
    assert client.get(home).status_code == 302


def test_the_last_request_is_written_at_most_once_a_minute(client):
    m = member(OrganizationFactory())
    client.force_login(m.user)
    home = reverse("accounts:org-home", args=[m.organization.slug])
    client.get(home)
    first = client.session[IdleSessionMiddleware.LAST_SEEN]
    client.get(home)
    assert client.session[IdleSessionMiddleware.LAST_SEEN] == first
