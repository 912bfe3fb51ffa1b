"""Print the Python requirements of what the demo's Home Assistant sets up.

`scripts/setup` installs them so the demo runs with `--skip-pip` (no downloads at run
time), like a real installation that has `default_config:`. Read from the installed
Home Assistant's own manifests and bootstrap lists, so another HA version gets its own
set: the domains of the demo configuration, the integrations HA always sets up, and
every integration these depend on (dependencies and after_dependencies). (The demo skips onboarding's extras - weather,
radio, text-to-speech - which would go to the internet.)
"""

import json
import sys
from pathlib import Path

import homeassistant.components
from homeassistant import bootstrap

# What scripts/demo.py puts in configuration.yaml, and what the integration needs.
DEMO_DOMAINS = {"default_config", "frontend", "config", "logger", "modbus", "template"}
STEKKER = Path(__file__).resolve().parent.parent / "custom_components" / "stekker"


def manifest(domain: str) -> dict[str, list[str]] | None:
    path = Path(homeassistant.components.__file__).parent / domain / "manifest.json"
    if domain == "stekker":
        path = STEKKER / "manifest.json"
    if not path.is_file():
        return None
    data: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def requirements(roots: set[str]) -> dict[str, str]:
    """Requirement -> the first integration found that needs it."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        data = manifest(domain)
        if data is None:
            continue
        for requirement in data.get("requirements", []):
            found.setdefault(requirement, domain)
        # Like Home Assistant's bootstrap, after_dependencies count too: an
        # integration may import one of them (usb imports hassio's client in 2026.11).
        todo.extend(data.get("dependencies", []))
        todo.extend(data.get("after_dependencies", []))
    return found


def main() -> int:
    roots = {
        *DEMO_DOMAINS,
        "stekker",
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
    }
    for requirement, domain in sorted(requirements(roots).items()):
        print(f"{requirement}  # {domain}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
