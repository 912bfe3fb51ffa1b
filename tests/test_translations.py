"""The shipped English translations are strings.json with references resolved."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "stekker"
_spec = importlib.util.spec_from_file_location(
    "translations", ROOT / "scripts" / "translations.py"
)
assert _spec is not None and _spec.loader is not None
translations = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translations)


def test_en_json_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "translations.py"), "--check"],
        check=False,
    )
    assert result.returncode == 0, "run scripts/lint to regenerate translations/en.json"


def test_every_entity_translation_key_has_a_name() -> None:
    from custom_components.stekker.sensor import HEADROOM_SENSORS, METER_SENSORS

    names = json.loads((COMPONENT / "translations" / "en.json").read_text())["entity"][
        "sensor"
    ]
    for description in (*HEADROOM_SENSORS, *METER_SENSORS):
        assert description.translation_key in names


def test_no_unresolved_references() -> None:
    assert "[%key:" not in (COMPONENT / "translations" / "en.json").read_text()


def test_keys_are_what_hassfest_accepts() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    assert translations.key_problems(strings) == []


@pytest.mark.parametrize(
    ("strings", "problem"),
    [
        (
            {"selector": {"parity": {"options": {"N": "None", "odd": "Odd"}}}},
            "invalid translation key 'N' at selector.parity.options",
        ),
        (
            {"entity": {"sensor": {"x": {"state": {"_idle": "Idle"}}}}},
            "invalid translation key '_idle' at entity.sensor.x.state",
        ),
        (
            {"entity": {"sensor": {"grid--power": {"name": "Grid"}}}},
            "invalid translation key 'grid--power' at entity.sensor",
        ),
        (
            {"exceptions": {"cannot-connect": {"message": "No"}}},
            "invalid slug 'cannot-connect' at exceptions",
        ),
        (
            {"services": {"s": {"fields": {"Limit": {"name": "L"}}}}},
            "invalid translation key 'Limit' at services.s.fields",
        ),
    ],
)
def test_translation_check_refuses_what_hassfest_refuses(
    strings: dict[str, Any], problem: str
) -> None:
    assert translations.key_problems(strings) == [problem]
