"""Run the benchmarks and print their figures; with --json the last line is JSON."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        timing = Path(tmp) / "timing.json"
        loops = Path(tmp) / "loops"
        loops.mkdir()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "benchmarks",
                "-q",
                "-p",
                "no:cacheprovider",
                "--benchmark-json",
                str(timing),
                "--benchmark-min-rounds=200",
            ],
            cwd=ROOT,
            env={**os.environ, "STEKKER_BENCH_OUT": str(loops)},
            check=False,
        )
        if result.returncode:
            return result.returncode
        stats = {
            b["name"]: b["stats"] for b in json.loads(timing.read_text())["benchmarks"]
        }
        figures = {
            "allocate_100_chargers_ms": round(
                stats["test_allocate_100_chargers"]["median"] * 1000, 4
            ),
        }
        for path in sorted(loops.glob("*.json")):
            for key, value in json.loads(path.read_text()).items():
                # Several scenarios give one figure: the worst counts.
                figures[key] = max(value, figures.get(key, value))
    for key, value in figures.items():
        print(f"{key}: {value}")
    if "--json" in sys.argv:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
