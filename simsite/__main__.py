"""Serve a simulated office on loopback: an SDM630 at the grid connection and Alfen sockets.

Used by `scripts/demo`. The building follows `BuildingLoad` on the local
clock; each Alfen socket has a car that follows the current Home Assistant
writes to it, or the safe current when nothing refreshes the setpoint.
"""

import argparse
import asyncio
import time

from .cars import Car
from .load import BuildingLoad
from .site import MAX_ALFEN_SOCKETS, SimulatedSite

# A 3-phase 16 A car and a 1-phase 32 A one on L1, the phase the office loads most.
DEMO_CARS = (
    Car("Hatchback", phases=3, max_a=16.0, battery_kwh=58.0, soc=0.35, lag_cycles=4),
    Car(
        "Van",
        phases=1,
        phase="l1",
        max_a=32.0,
        battery_kwh=75.0,
        soc=0.2,
        lag_cycles=6,
    ),
)


def seconds_of_day() -> float:
    now = time.localtime()
    return now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec + time.time() % 1


async def serve(
    port: int, unit_id: int, interval: float, chargers: int, charger_port: int
) -> None:
    site = SimulatedSite(
        BuildingLoad(),
        {f"socket_{n + 1}": car for n, car in enumerate(DEMO_CARS[:chargers])},
        alfen_sockets=chargers,
        grid_unit_id=unit_id,
        start_s=seconds_of_day(),
        import_kwh=12_345.0,
        meter_port=port,
        charger_port=charger_port,
        history_len=1000,  # the demo runs for hours and only serves readings
    )
    await site.start()
    print(f"simsite: SDM630 unit {unit_id} on 127.0.0.1:{site.meter_port}", flush=True)
    if chargers:
        print(
            f"simsite: Alfen Eve units 1..{chargers} on 127.0.0.1:{site.charger_port}",
            flush=True,
        )
    try:
        last = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            site.step(seconds_of_day(), now - last, {})
            last = now
    finally:
        await site.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=15020)
    parser.add_argument("--unit-id", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument(
        "--chargers", type=int, choices=range(MAX_ALFEN_SOCKETS + 1), default=2
    )
    parser.add_argument("--charger-port", type=int, default=15021)
    args = parser.parse_args()
    asyncio.run(
        serve(args.port, args.unit_id, args.interval, args.chargers, args.charger_port)
    )


if __name__ == "__main__":
    main()
