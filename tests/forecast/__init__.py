"""Tests of the solar forecast sources against answers in each service's documented format."""

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    """A recorded-format answer as the service sends it."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    """A recorded-format answer, parsed, for tests that alter one field."""
    return json.loads(fixture_text(name))
