"""Known vulnerabilities of the installed (pinned) packages, with pip-audit — honestly.

Usage: ``.venv/bin/python .ci/audit.py`` (``make audit``; ``.ci/run`` runs it before the tests).
It audits the environment it runs in (the .venv installed from pyproject.toml's pins, their
dependencies included; Tandem itself skipped), or ``-r FILE`` of exact pins.

Exit status: 0 every package was audited and none has a known vulnerability; 1 a known
vulnerability (each printed with its fixed versions); 2 the audit could NOT run, and why — the
vulnerability service unreachable or answering errors, or packages it could not look up.

Why not pip-audit alone: with its default PyPI service, a package whose per-version JSON
(``https://pypi.org/pypi/<name>/<version>/json``) answers 404 — as every one does on a network
that reaches only the package index — is "skipped", and pip-audit still prints "No known
vulnerabilities found" and exits 0. With the OSV service, an unreachable host ends in a
traceback and exit 1, the same status as a vulnerability. This wrapper asks OSV, reads
pip-audit's JSON report and tells the three outcomes apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

OSV_URL = "https://api.osv.dev/v1/query"
OK, VULNERABLE, NOT_RUN = 0, 1, 2


def run_pip_audit(args: argparse.Namespace, report: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--vulnerability-service",
        "osv",
        "--osv-url",
        args.osv_url,
        "--format",
        "json",
        "--desc",
        "on",
        "--output",
        str(report),
        "--progress-spinner",
        "off",
        "--timeout",
        str(args.timeout),
    ]
    if args.cache_dir:
        command += ["--cache-dir", args.cache_dir]
    if args.requirement:
        command += ["--requirement", args.requirement, "--no-deps", "--disable-pip"]
    else:
        command += ["--skip-editable"]  # Tandem itself is not on any index
    return subprocess.run(command, capture_output=True, text=True, timeout=args.deadline)  # noqa: S603


def why_not(stderr: str) -> str:
    """The last meaningful line of pip-audit's error output (the exception, not the traceback)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(("File ", "^", "~")) and "Traceback" not in line:
            return line[:600]
    return "pip-audit wrote no report and no error"


def judge(report: dict) -> tuple[int, list[str]]:
    """(exit status, lines to print) for pip-audit's JSON report."""
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            aliases = f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
            lines.append(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']}{aliases}, fixed in {fixed}")
            if vuln.get("description"):
                lines.append(f"    {vuln['description'][:300]}")
    for dep in skipped:
        lines.append(f"NOT AUDITED {dep['name']}: {dep['skip_reason']}")
    if vulnerable:
        count = sum(len(d["vulns"]) for d in vulnerable)
        lines.append(f"pip-audit: {count} known vulnerabilities in {len(vulnerable)} of {len(audited)} packages.")
        return VULNERABLE, lines
    if skipped or not audited:
        lines.append(
            f"pip-audit: the audit did NOT run completely: {len(skipped)} packages could not be looked up "
            f"({len(audited)} audited). This is not a pass."
        )
        return NOT_RUN, lines
    lines.append(f"pip-audit: {len(audited)} packages audited against OSV, no known vulnerabilities.")
    return OK, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-r", "--requirement", help="a requirements file of exact pins (default: this environment)")
    parser.add_argument("--osv-url", default=OSV_URL, help="OSV's query endpoint (a mirror of it)")
    parser.add_argument("--cache-dir", help="pip-audit's cache directory")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per request to the service")
    parser.add_argument("--deadline", type=int, default=600, help="seconds for the whole audit")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        try:
            result = run_pip_audit(args, report_path)
        except subprocess.TimeoutExpired:
            print(f"pip-audit: the audit could NOT run: no answer from {args.osv_url} within {args.deadline} s.")
            return NOT_RUN
        report = json.loads(report_path.read_text()) if report_path.exists() else None
    if report is None:
        print(
            f"pip-audit: the audit could NOT run: the vulnerability service ({args.osv_url}) could not be used.\n"
            f"    reason: {why_not(result.stderr)}\n"
            "    No package was checked; this is not a pass."
        )
        return NOT_RUN
    status, lines = judge(report)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
