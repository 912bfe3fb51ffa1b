"""Serve a simulated site on loopback: an SDM630 at the grid connection of an office.

Used by `scripts/demo`; the readings follow `BuildingLoad` on the local clock.
"""

import argparse
import asyncio
import time

from custom_components.stekker.modbus.profiles import METER_PROFILES

from .load import BuildingLoad
from .modbus_server import ModbusSimServer


def seconds_of_day() -> float:
    now = time.localtime()
    return now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec + time.time() % 1


async def serve(port: int, unit_id: int, interval: float) -> None:
    profile = METER_PROFILES["sdm630"]
    load = BuildingLoad()
    server = ModbusSimServer(port=port)
    energy_kwh = 12_345.0
    server.set_meter(
        unit_id,
        profile,
        {
            **load.meter_values(seconds_of_day()),
            "import_kwh": energy_kwh,
            "export_kwh": 0.0,
        },
    )
    await server.start()
    print(f"simsite: SDM630 unit {unit_id} on 127.0.0.1:{server.port}", flush=True)
    try:
        while True:
            await asyncio.sleep(interval)
            values = load.meter_values(seconds_of_day())
            energy_kwh += max(0.0, values["power_w"]) * interval / 3_600_000.0
            server.set_meter(
                unit_id,
                profile,
                {**values, "import_kwh": energy_kwh, "export_kwh": 0.0},
            )
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=15020)
    parser.add_argument("--unit-id", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.unit_id, args.interval))


if __name__ == "__main__":
    main()
