"""Write translations/en.json from strings.json with every [%key:...%] reference resolved.

Home Assistant resolves such references only for core integrations, so a custom
integration ships them resolved. `scripts/lint` runs this; a test checks it was.

Also refuses keys that hassfest refuses: translation keys (selector options, entity
keys and states, state attributes, devices, services and their fields) must be
lower-case letters, digits, `-` and `_`, neither starting nor ending with `-`/`_` nor
doubling them; exception keys must be slugs. With --check it also fails when
translations/nl.json has other keys than English.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "stekker"
TRANSLATIONS = ("nl",)  # besides English, each with exactly English's keys
REFERENCE = re.compile(r"\[%key:component::stekker::([a-z0-9_:]+)%\]")
TRANSLATION_KEY = re.compile(r"^(?![-_])(?!.*[-_]{2})[a-z0-9_-]+(?<![-_])$")
SLUG = re.compile(r"^[a-z0-9_]+$")


def key_problems(strings: dict[str, Any]) -> list[str]:
    """Keys Home Assistant's hassfest would refuse, each with where it is."""
    problems: list[str] = []

    def check(keys: Any, where: str, rule: re.Pattern[str] = TRANSLATION_KEY) -> None:
        for key in keys if isinstance(keys, dict) else ():
            if not rule.match(key):
                kind = "slug" if rule is SLUG else "translation key"
                problems.append(f"invalid {kind} {key!r} at {where}")

    for name, selector in strings.get("selector", {}).items():
        for part in ("options", "choices", "unit_of_measurement"):
            check(selector.get(part), f"selector.{name}.{part}")
    for platform, entities in strings.get("entity", {}).items():
        check({platform: None}, "entity", SLUG)
        check(entities, f"entity.{platform}")
        for key, entity in entities.items():
            where = f"entity.{platform}.{key}"
            check(entity.get("state"), f"{where}.state")
            attributes = entity.get("state_attributes", {})
            check(attributes, f"{where}.state_attributes")
            for attribute, info in attributes.items():
                check(info.get("state"), f"{where}.state_attributes.{attribute}.state")
    check(strings.get("device"), "device")
    services = strings.get("services", {})
    check(services, "services")
    for name, service in services.items():
        check(service.get("fields"), f"services.{name}.fields")
        check(service.get("sections"), f"services.{name}.sections")
    check(strings.get("exceptions"), "exceptions", SLUG)
    return problems


def resolve(strings: dict[str, Any]) -> dict[str, Any]:
    def lookup(path: str) -> str:
        node: Any = strings
        for part in path.split("::"):
            node = node[part]
        if not isinstance(node, str):
            raise TypeError(f"reference {path} is not a string")
        return resolve_text(node)

    def resolve_text(text: str) -> str:
        return REFERENCE.sub(lambda m: lookup(m.group(1)), text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if k != "common"}
        return resolve_text(node)

    resolved: dict[str, Any] = walk(strings)
    return resolved


def keys(node: Any, prefix: str = "") -> set[str]:
    """Every key path of a translation tree, nested keys joined by dots."""
    if not isinstance(node, dict):
        return {prefix}
    paths: set[str] = set()
    for key, value in node.items():
        paths |= keys(value, f"{prefix}.{key}" if prefix else key)
    return paths


def key_differences(english: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What a translation misses or has extra compared with English, one per line."""
    ours, theirs = keys(english), keys(other)
    return [f"missing: {path}" for path in sorted(ours - theirs)] + [
        f"extra: {path}" for path in sorted(theirs - ours)
    ]


def main() -> int:
    strings = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    if problems := key_problems(strings):
        print("strings.json: " + "\n  ".join(["keys hassfest refuses:", *problems]))
        return 1
    english = resolve(strings)
    text = json.dumps(english, indent=2, ensure_ascii=False) + "\n"
    target = COMPONENT / "translations" / "en.json"
    if "--check" in sys.argv:
        ok = target.read_text(encoding="utf-8") == text
        if not ok:
            print("translations/en.json is stale: run scripts/lint", file=sys.stderr)
        for name in TRANSLATIONS:
            path = COMPONENT / "translations" / f"{name}.json"
            differences = key_differences(
                english, json.loads(path.read_text(encoding="utf-8"))
            )
            if differences:
                ok = False
                print(
                    f"translations/{name}.json has other keys than English:",
                    *differences,
                    sep="\n  ",
                    file=sys.stderr,
                )
        return 0 if ok else 1
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
