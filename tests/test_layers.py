"""The house in layers (CONTRIBUTING.md, "Layers"): the import-linter contracts hold, every module of
procurement is classified as kernel or wiring, and our own contract type finds what it is for."""

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from lint.contracts import findings_of

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_contract_has_ignore_entries():
    assert all("ignore_imports" not in contract for contract in _contracts().values())


def test_every_module_of_procurement_is_kernel_or_wiring():
    contracts = _contracts()
    kernel = set(contracts["kernel"]["source_modules"])
    wiring = set(contracts["wiring"]["forbidden_modules"])
    assert not kernel & wiring
    modules = set()
    for path in (ROOT / "procurement").iterdir():
        if path.name.startswith(("_", ".")) or path.name == "__pycache__":
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            modules.add(f"procurement.{path.stem}")
    unclassified = modules - kernel - wiring
    assert not unclassified, f"list these in pyproject.toml as kernel or wiring: {sorted(unclassified)}"
    assert not (kernel | wiring) - modules, "pyproject.toml names modules that do not exist"


@pytest.fixture
def two_apps(tmp_path, monkeypatch):
    """A tiny project: ``low`` and ``high``, where ``high`` misbehaves in each way the contract knows."""
    (tmp_path / "low" / "services").mkdir(parents=True)
    (tmp_path / "high").mkdir()
    for package in ("low", "low/services", "high"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "low" / "services" / "common.py").write_text("def _lock(): ...\ndef lock(): ...\n")
    (tmp_path / "high" / "views.py").write_text(
        textwrap.dedent(
            """
            from low.services import common
            from low.services.common import _lock, lock

            def view():
                from low.services import common as again
                return common._lock(), again.lock(), lock()
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    return {"low", "low.services", "low.services.common", "high", "high.views"}


def test_the_private_names_contract_finds_private_names_and_local_imports(two_apps):
    found = {f.text for f in findings_of("high.views", {"low", "high"}, two_apps, forbid_local_imports=True)}
    assert found == {
        "imports the private name low.services.common._lock",
        "uses the private name low.services.common._lock",
        "imports low.services inside a function or class",
    }
    assert findings_of("low.services.common", {"low", "high"}, two_apps, forbid_local_imports=True) == []
