# Two commands on a fresh machine: `make run` (the embedded demo) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | $(PYTHON) -c "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])")

.PHONY: run test bench lint format install clean audit

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Tandem demo on http://127.0.0.1:8000 (log in as buyer@northwind.example / demo); e-mails go to var/mail/"
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest

# Against PostgreSQL (DATABASE_URL, default a tandem_bench database on this machine): see bench/run.py.
bench: $(STAMP)
	$(PY) -m bench.run

# Known vulnerabilities of the pinned packages (pip-audit against OSV): exit 0 clean,
# 1 vulnerable, 2 the audit could not run (the service unreachable) — see .ci/audit.py.
audit: $(STAMP)
	$(PY) .ci/audit.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 var
