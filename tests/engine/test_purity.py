"""The engine stays pure: no Home Assistant, no I/O, no clock."""

import ast
from pathlib import Path

import pytest

ENGINE = (
    Path(__file__).resolve().parents[2] / "custom_components" / "stekker" / "engine"
)
FORBIDDEN_MODULES = (
    "homeassistant",
    "asyncio",
    "aiohttp",
    "pymodbus",
    "socket",
    "os",
    "time",
    "io",
    "pathlib",
    "random",
)
FORBIDDEN_CALLS = ("now", "utcnow", "today", "time", "monotonic", "open")


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_engine_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, (
                f"{path.name} imports {name}"
            )
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            assert called not in FORBIDDEN_CALLS, f"{path.name} calls {called}()"


def test_the_check_sees_every_module() -> None:
    assert {p.name for p in ENGINE.glob("*.py")} >= {
        "allocator.py",
        "headroom.py",
        "site.py",
        "solar.py",
        "sun.py",
    }
