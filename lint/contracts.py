"""import-linter contract types of our own (``[tool.importlinter]`` in pyproject.toml).

``private_names``: no module of one app uses a private name (``_x``) of another app, whether
imported (``from orders.services.common import _lock_po``) or reached through a module
(``common._lock_po(...)``); and, with ``forbid_local_imports``, no import of another app runs
inside a function or a class (an import in a function is how a circle between apps is hidden).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class Finding:
    module: str
    line: int
    text: str


def _app_of(module: str, apps: set[str]) -> str | None:
    top = module.split(".")[0]
    return top if top in apps else None


def _path(module: str) -> tuple[Path, bool] | None:
    """The file of ``module`` in this checkout and whether it is a package (nothing is imported)."""
    base = Path.cwd().joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def findings_of(module: str, apps: set[str], modules: set[str], *, forbid_local_imports: bool) -> list[Finding]:
    located = _path(module)
    if located is None:
        return []
    path, is_package = located
    own = _app_of(module, apps)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Finding] = []
    foreign_aliases: dict[str, str] = {}  # a name bound to a module of another app

    def foreign(target: str) -> bool:
        app = _app_of(target, apps)
        return app is not None and app != own

    def add(node: ast.AST, text: str) -> None:
        found.append(Finding(module, node.lineno, text))

    def resolve(node: ast.AST) -> str | None:
        """The dotted name ``node`` stands for, through the names the imports bound (else None)."""
        if isinstance(node, ast.Name):
            return foreign_aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def private_use(node: ast.AST, owner: ast.AST, name: str) -> None:
        if name.startswith("_") and not name.startswith("__"):
            target = resolve(owner)
            if target in modules:
                add(node, f"uses the private name {target}.{name}")

    def walk(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            if isinstance(child, ast.ImportFrom):
                target = _absolute(child, module, is_package)
                if foreign(target):
                    if local and forbid_local_imports:
                        add(child, f"imports {target} inside a function or class")
                    for alias in child.names:
                        if alias.name.startswith("_"):
                            add(child, f"imports the private name {target}.{alias.name}")
                        elif f"{target}.{alias.name}" in modules:
                            foreign_aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if foreign(alias.name):
                        if local and forbid_local_imports:
                            add(child, f"imports {alias.name} inside a function or class")
                        if alias.asname:
                            foreign_aliases[alias.asname] = alias.name
                        else:  # ``import a.b.c`` binds ``a``
                            top = alias.name.split(".")[0]
                            foreign_aliases[top] = top
            elif isinstance(child, ast.Attribute):
                private_use(child, child.value, child.attr)
            elif (  # getattr(module, "_name")
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Name)
                and child.func.id == "getattr"
                and len(child.args) >= 2
                and isinstance(child.args[1], ast.Constant)
                and isinstance(child.args[1].value, str)
            ):
                private_use(child, child.args[0], child.args[1].value)
            walk(child, inner)

    walk(tree, False)
    return found


class PrivateNamesContract(Contract):
    """Apps use one another's public names only (and, optionally, import one another at module level)."""

    apps = fields.ListField(subfield=fields.StringField())
    forbid_local_imports = fields.BooleanField(required=False, default=False)

    def check(self, graph, verbose: bool) -> ContractCheck:
        apps = set(self.apps)
        modules = set(graph.modules)
        found: list[Finding] = []
        for module in sorted(modules):
            if _app_of(module, apps) is None:
                continue
            found.extend(findings_of(module, apps, modules, forbid_local_imports=self.forbid_local_imports))
        return ContractCheck(kept=not found, metadata={"findings": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for finding in check.metadata["findings"]:
            output.print_error(f"{finding.module}:{finding.line} {finding.text}", bold=False)
            output.new_line()
