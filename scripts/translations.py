"""Write translations/en.json from strings.json with every [%key:...%] reference resolved.

Home Assistant resolves such references only for core integrations, so a custom
integration ships them resolved. `scripts/lint` runs this; a test checks it was.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "stekker"
REFERENCE = re.compile(r"\[%key:component::stekker::([a-z0-9_:]+)%\]")


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


def main() -> int:
    strings = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    text = json.dumps(resolve(strings), indent=2, ensure_ascii=False) + "\n"
    target = COMPONENT / "translations" / "en.json"
    if "--check" in sys.argv:
        return 0 if target.read_text(encoding="utf-8") == text else 1
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
