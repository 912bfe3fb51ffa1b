"""Imports run one way: platforms -> coordinators -> engine, modbus, forecast.

Read from the source: a module's imports of the package's own modules, type-only
ones included, must form no cycle. The one exception is the runtime data module:
it names the coordinators it holds under `if TYPE_CHECKING:` only (annotations
are evaluated lazily), so that everything else can import it.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "custom_components" / "stekker"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = (
        module_name(path).rsplit(".", 1)[0]
        if path.name != "__init__.py"
        else module_name(path)
    )
    here = package if "." in module_name(path) or path.name == "__init__.py" else ""
    found: set[str] = set()
    for node in tree.body:
        type_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(
            node.test
        )
        if type_only and path.name == "runtime.py":
            continue
        for child in ast.walk(node):
            if isinstance(child, ast.ImportFrom) and child.level:
                base = here.split(".") if here and here != "__init__" else []
                base = (
                    base[: len(base) - (child.level - 1)] if child.level > 1 else base
                )
                target = ".".join([*base, *([child.module] if child.module else [])])
                found.add(target or "__init__")
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in runtime_imports(path):
            # `from .engine import x` may name a module x or a name in engine.
            targets.add(target if target in modules else target.rsplit(".", 1)[0])
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


def test_no_import_cycles() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError(" -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(edges.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])


def test_runtime_data_imports_no_coordinator_at_run_time() -> None:
    edges = graph()
    assert not edges["runtime"] & {"coordinator", "balancer", "solar_forecast"}
    for coordinator in ("coordinator", "balancer", "solar_forecast"):
        platforms = {"sensor", "binary_sensor", "number", "switch", "__init__"}
        assert not edges[coordinator] & platforms, coordinator
