"""The shipped English translations are strings.json with references resolved."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "stekker"


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
