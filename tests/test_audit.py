""".ci/audit.py: pip-audit's three outcomes told apart — vulnerable (1), clean (0), not run (2).

OSV cannot be reached from this machine, so the service is a small local HTTP server speaking
OSV's query API (POST /v1/query → {"vulns": [...]}); pip-audit itself runs for real against it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "audit.py"

ADVISORY = {  # OSV schema 1.x, as api.osv.dev answers (a made-up id: no real advisory is claimed)
    "schema_version": "1.6.0",
    "id": "TEST-OSV-2026-0001",
    "aliases": ["CVE-2026-99999"],
    "summary": "Test advisory: SQL injection in QuerySet.example()",
    "modified": "2026-11-01T00:00:00Z",
    "published": "2026-11-01T00:00:00Z",
    "affected": [
        {
            "package": {"name": "django", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "5.2"}, {"fixed": "5.2.20"}]}],
        }
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def osv():
    """A local OSV query endpoint; ``osv.vulnerable`` maps package name → advisories."""
    state = {"vulnerable": {}, "queries": [], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["queries"].append((query["package"]["name"], query["version"]))
            vulns = state["vulnerable"].get(query["package"]["name"], [])
            body = json.dumps({"vulns": vulns} if vulns else {}).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    yield state
    server.shutdown()
    server.server_close()


def audit(tmp_path: Path, osv_url: str, *pins: str) -> subprocess.CompletedProcess:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pins) + "\n")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "-r", str(requirements), "--osv-url", osv_url, "--cache-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_known_vulnerability_fails(tmp_path, osv):
    osv["vulnerable"]["django"] = [ADVISORY]
    result = audit(tmp_path, osv["url"], "Django==5.2.19", "sqlparse==0.6.1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VULNERABLE django 5.2.19: CVE-2026-99999 (TEST-OSV-2026-0001), fixed in 5.2.20" in result.stdout
    assert "1 known vulnerabilities in 1 of 2 packages" in result.stdout


def test_a_clean_audit_passes_only_after_asking_for_every_package(tmp_path, osv):
    result = audit(tmp_path, osv["url"], "Django==5.2.19", "sqlparse==0.6.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 packages audited against OSV, no known vulnerabilities" in result.stdout
    assert sorted(osv["queries"]) == [("django", "5.2.19"), ("sqlparse", "0.6.1")]


def test_an_unreachable_service_says_the_audit_did_not_run(tmp_path):
    result = audit(tmp_path, f"http://127.0.0.1:{free_port()}/v1/query", "Django==5.2.19")
    assert result.returncode == 2
    assert "the audit could NOT run" in result.stdout and "not a pass" in result.stdout
    assert "Connection refused" in result.stdout or "ConnectionError" in result.stdout


def test_a_service_error_says_the_audit_did_not_run(tmp_path, osv):
    osv["status"] = 503
    result = audit(tmp_path, osv["url"], "Django==5.2.19")
    assert result.returncode == 2
    assert "the audit could NOT run" in result.stdout


def test_packages_pip_audit_skipped_are_not_a_pass():
    """pip-audit's own report when PyPI's per-version JSON answers 404 (as on this network): it
    printed "No known vulnerabilities found" and exited 0 for this."""
    spec = importlib.util.spec_from_file_location("ci_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = {
        "dependencies": [
            {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2.19)"},
            {"name": "asgiref", "version": "3.13.0", "vulns": []},
        ],
        "fixes": [],
    }
    status, lines = module.judge(report)
    assert status == 2
    assert lines[0].startswith("NOT AUDITED django: Dependency not found on PyPI")
    assert "did NOT run completely: 1 packages could not be looked up (1 audited)" in lines[-1]
    assert module.judge({"dependencies": [], "fixes": []})[0] == 2  # nothing audited is no pass either
