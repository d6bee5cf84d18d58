"""The house rules of the package layout: imports run one way, spyne stays on the wire.

Read from the source (every import statement, also inside functions and under
TYPE_CHECKING), so a new module is checked the day it is written. README.rst's developer
section says what each folder holds and may import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"

# modules every layer may import: they import nothing of ours but each other
LEAVES = {
    "gateway",
    "gateway.errors",
    "gateway.environ",
    "gateway.jsonquirks",
    "gateway.settings",
    "gateway.wirenumbers",
    "gateway.passwords",
    "gateway.faults",
    "gateway.principal",
    "gateway.redaction",
    "gateway.safexml",
}
# the one-way chain, lowest first: a layer imports only from itself and the layers before it
CHAIN = [
    ("store", ("gateway.store",)),
    ("mail", ("gateway.mail",)),
    ("domain", ("gateway.tickets", "gateway.auth", "gateway.runtime", "gateway.commlog", "gateway.metrics")),
    ("operations", ("gateway.operations",)),
    ("wire", ("gateway.transport", "gateway.webservice")),
    (
        "serving",
        (
            "gateway.middleware",
            "gateway.dispatcher",
            "gateway.app",
            "gateway.gunicorn_config",
            "gateway.gunicorn_worker",
            "gateway.accesslog",
        ),
    ),
]
# beside the chain: what an administrator does uses the domain and the wire's configuration,
# the console uses admin; nothing of the chain imports either
SIDE = {"admin": ("gateway.admin", "gateway.demo"), "cli": ("gateway.cli",), "web": ("gateway.web",)}
SIDE_MAY_IMPORT = {
    "admin": {"store", "mail", "domain", "wire", "admin"},
    "cli": {"store", "mail", "domain", "admin", "cli"},
    "web": {"store", "domain", "admin", "web"},
}
# the one import from the chain into a side: the application mounts the admin pages under /admin/
MOUNTS = [("gateway.app", "gateway.web.app")]
# within a layer, as the issue that drew the plan says: the transports never import operations
FORBIDDEN = [("gateway.transport", "gateway.operations")]
SPYNE_ALLOWED = ("gateway.operations", "gateway.transport", "gateway.webservice")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(name: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import of a module's source, relative imports resolved."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from gateway.x import y` may import the module gateway.x.y
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> str | None:
    if module in LEAVES:
        return "leaf"
    for layer, prefixes in [*CHAIN, *SIDE.items()]:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def _sources() -> dict[str, tuple[str, bool]]:
    """Module name -> (source, is a package), for every module of gateway but its migrations."""
    return {
        _module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in p.parts
    }


def _ours(imported: str) -> str | None:
    """The gateway module an import names (`gateway.x.y` may be the name y inside gateway.x)."""
    if imported != "gateway" and not imported.startswith("gateway."):
        return None
    candidate = imported
    while candidate and not (
        (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
        or (PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists()
    ):
        candidate = candidate.rpartition(".")[0]
    return candidate or None


def test_every_module_belongs_to_a_layer():
    unplaced = [name for name in _sources() if _layer(name) is None]
    assert unplaced == [], "place these modules in tests/test_layers.py's LEAVES, CHAIN or SIDE"


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    rank = {layer: i for i, (layer, _) in enumerate(CHAIN)}
    found = []
    for importer, (source, is_package) in sources.items():
        source_layer = _layer(importer)
        for line, imported in _imports(importer, source, is_package):
            target = _ours(imported)
            if target is None or target == importer:
                continue
            target_layer = _layer(target)
            where = f"{importer}:{line}: {importer} imports {target}"
            if target_layer == "leaf":
                ok = True
            elif source_layer == "leaf":
                ok = False
            elif source_layer in SIDE:
                ok = target_layer in SIDE_MAY_IMPORT[source_layer]
            elif target_layer in SIDE:
                ok = (importer, target) in MOUNTS
            else:
                ok = rank[target_layer] <= rank[source_layer]
            if ok and any(importer.startswith(a) and target.startswith(b) for a, b in FORBIDDEN):
                ok = False
            if not ok:
                found.append(where)
    return found


def test_imports_run_one_way():
    assert violations(_sources()) == []


def test_spyne_stays_in_operations_transport_and_webservice():
    outside = [
        f"{name}:{line}"
        for name, (source, is_package) in _sources().items()
        if not name.startswith(SPYNE_ALLOWED)
        for line, imported in _imports(name, source, is_package)
        if imported == "spyne" or imported.startswith("spyne.")
    ]
    assert outside == []


def test_no_module_imports_itself_through_others():
    """Within a layer too: a cycle (even one hidden in a function or under TYPE_CHECKING) is a knot."""
    sources = _sources()
    graph = {
        name: {t for _, imported in _imports(name, *source) if (t := _ours(imported)) and t != name}
        for name, source in sources.items()
    }
    cycles = [component for component in _components(graph) if len(component) > 1]
    assert cycles == []


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        (
            "gateway.mail.probe",
            "from gateway.tickets import writes\n",
            "gateway.mail.probe imports gateway.tickets.writes",
        ),
        (
            "gateway.transport.probe",
            "def f():\n    from gateway import operations\n",
            "gateway.transport.probe imports gateway.operations",
        ),
        (
            "gateway.store.probe",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..admin import keys\n",
            "gateway.store.probe imports gateway.admin.keys",
        ),
        ("gateway.settings", "from gateway.store import database\n", "gateway.settings imports gateway.store.database"),
    ],
)
def test_a_wrong_way_import_is_caught(importer, source, expected):
    """The check itself: an import against the direction, even inside a function, is reported."""
    assert [line.split(": ", 1)[1] for line in violations({importer: (source, False)})] == [expected]


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert sorted(c for c in _components(graph) if len(c) > 1) == [["a", "b", "c"]]
