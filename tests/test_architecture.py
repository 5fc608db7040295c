"""The import graph stays as docs/architecture.md draws it: no cycles, parts below the facade."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import actuator

PACKAGE = Path(actuator.__file__).parent

# Who may import whom, by package (see docs/architecture.md). Every part may
# import the settings and the small shared helpers at the root; a module always
# may import its own package; the facade and the composition roots may import
# anything. Packages not listed here (fleet) are held to no cycles only.
SHARED = frozenset(
    {
        "actuator.settings",
        "actuator.sanitizer",
        "actuator._calls",
        "actuator._pool",
        "actuator._http",
        "actuator._results",
        "actuator.client",
    }
)
MAY_IMPORT: dict[str, frozenset[str]] = {
    "actuator.health": SHARED,
    "actuator.info": SHARED | {"actuator.health"},
    "actuator.security": SHARED | {"actuator.endpoints.base"},
    "actuator.management": SHARED | {"actuator.health", "actuator.endpoints.base"},
    "actuator.frameworks": SHARED,
    "actuator.metrics": SHARED | {"actuator.health", "actuator.info", "actuator.frameworks"},
    # Load shedding: its limiter, the middleware, and the indicator and collector over it.
    "actuator.overload": SHARED | {"actuator.health"},
    "actuator.endpoints": SHARED
    | {
        "actuator.health",
        "actuator.info",
        "actuator.management",
        "actuator.metrics",
        "actuator.security",
        "actuator.frameworks",
    },
}
# Only these build an Actuator or mount one; no part sees the facade.
FACADE = frozenset({"actuator.core"})
COMPOSITION_ROOTS = frozenset(
    {
        "actuator",
        "actuator.core",
        "actuator.cli",
        "actuator.__main__",
        "actuator.servers.sidecar",
        # The fleet console is an app with its own actuator, as the sidecar is.
        "actuator.fleet.app",
    }
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> Iterator[str]:
    """Every actuator module ``module`` imports: top level, in functions, under TYPE_CHECKING."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "actuator":
                continue
            target = resolve(name)
            # A package re-exporting its own children is not a dependency on itself.
            if target is not None and target != module and not target.startswith(module + "."):
                yield target


GRAPH = {module: set(imports_of(module)) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first repeated last), or ``None``."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return [*path[path.index(child) :], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return None


def owner(module: str) -> str | None:
    for package in MAY_IMPORT:
        if module == package or module.startswith(package + "."):
            return package
    return None


def test_the_package_has_no_import_cycle_not_even_type_only_or_function_level() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_count_type_checking_and_function_level_ones() -> None:
    # core imports ActuatorMiddleware's base at top level; endpoints/metrics.py
    # imports ActuatorMetrics under TYPE_CHECKING only; _background imports the
    # drain inside a function.
    assert "actuator.middleware" in GRAPH["actuator.core"]
    assert "actuator.metrics.registry" in GRAPH["actuator.endpoints.metrics"]
    assert "actuator.management.drain" in GRAPH["actuator._background"]


def test_no_part_imports_the_facade() -> None:
    reaching = {
        module: sorted(GRAPH[module] & FACADE)
        for module in MODULES
        if module not in COMPOSITION_ROOTS and GRAPH[module] & FACADE
    }
    assert reaching == {}


def test_each_package_imports_only_what_the_architecture_allows() -> None:
    breaches: dict[str, list[str]] = {}
    for module, targets in GRAPH.items():
        package = owner(module)
        if package is None:
            continue
        allowed = MAY_IMPORT[package] | {package}
        bad = sorted(
            t for t in targets if not any(t == a or t.startswith(a + ".") for a in allowed)
        )
        if bad:
            breaches[module] = bad
    assert breaches == {}
