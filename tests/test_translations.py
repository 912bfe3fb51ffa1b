"""The shipped English translations are strings.json with references resolved.

Every other shipped language has exactly English's keys and placeholders.
"""

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
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


PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _load(name: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"{name}.json repeats a key in {keys}"
        return dict(pairs)

    text = (COMPONENT / "translations" / f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text, object_pairs_hook=no_duplicates)
    return loaded


def _strings(node: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a translation tree by its dotted key path."""
    if not isinstance(node, dict):
        return {path: node}
    leaves: dict[str, Any] = {}
    for key, value in node.items():
        leaves |= _strings(value, f"{path}.{key}" if path else key)
    return leaves


def test_nl_json_has_exactly_the_keys_of_en_json() -> None:
    english, dutch = _strings(_load("en")), _strings(_load("nl"))
    missing = sorted(english.keys() - dutch.keys())
    extra = sorted(dutch.keys() - english.keys())
    assert not missing, f"translations/nl.json lacks {missing}"
    assert not extra, f"translations/nl.json has keys English has not: {extra}"


def test_nl_json_keeps_every_placeholder_of_en_json() -> None:
    english, dutch = _strings(_load("en")), _strings(_load("nl"))
    for path in english.keys() & dutch.keys():
        en_names = Counter(PLACEHOLDER.findall(english[path]))
        nl_names = Counter(PLACEHOLDER.findall(dutch[path]))
        assert set(nl_names) == set(en_names), f"{path}: {nl_names} != {en_names}"
        assert nl_names == en_names, f"{path}: {nl_names} != {en_names}"


def test_nl_json_is_valid_json_without_empty_strings() -> None:
    for path, text in _strings(_load("nl")).items():
        assert isinstance(text, str), f"{path} is not a string: {text!r}"
        assert text.strip(), f"{path} is empty"
