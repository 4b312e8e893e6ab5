"""The production settings pass `check --deploy` with no warning, given real values."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "procurement.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "tandem.example",
            "DATABASE_URL": "postgres://tandem@127.0.0.1:5432/tandem",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_real_secret_key():
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "procurement.settings.production",
            "SECRET_KEY": "short",
            "ALLOWED_HOSTS": "tandem.example",
            "DATABASE_URL": "postgres://tandem@127.0.0.1:5432/tandem",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
