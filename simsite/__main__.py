"""Serve a simulated residential complex on loopback for `scripts/demo`.

- Meter port: an SDM630 at the grid connection (unit 1) and one in the solar
  inverter's line (unit 2, production counted as import).
- Charger port: an Alfen Eve Double, sockets 1 and 2 (units 1 and 2).
- Wallbox port: two chargers Home Assistant drives through `number` entities
  (units 1 and 2, the register block of `simsite.wallbox`); the second
  reports the id tag of the card that started its session.

The building (an evening peak) and the sun follow the local clock, so they
agree with what Home Assistant forecasts; the cars' day is compressed
(``--speed``): they arrive, draw with a lag, fill up and leave in minutes,
their batteries filling that many times faster than the meters count.
"""

import argparse
import asyncio
import time
from datetime import datetime, timedelta

from custom_components.stekker.engine.solar import SolarArray

from .cars import Car
from .load import BuildingLoad
from .site import MAX_ALFEN_SOCKETS, SimulatedSite
from .solar import SolarPlant
from .visits import Driveway, Visit
from .wallbox import WallboxStation

LATITUDE, LONGITUDE = 52.09, 5.12  # the demo's Home Assistant location
ROOF = SolarArray("Roof south", 40, 400.0, 180.0, 35.0, 15.0)
SOCKETS = ("carport_left", "carport_right")  # Alfen units 1 and 2
WALLBOXES = {"garage_1": 1, "garage_2": 2}  # wallbox unit ids
WALLBOX_MAX_A = {"garage_1": 16, "garage_2": 32}

# Residents' cards (NFC UIDs, as an OCPP charge point reports them).
CARDS = {
    "Flat 1A": "04A3F2B1C45E80",
    "Flat 2B": "04B7C61D2A9F81",
    "Flat 3C": "0451E9A3BC7D82",
}

# One day at the complex: home at night, visits in the day. The demo starts at 16:00
# of this day: the afternoon's visitors leave, then everyone comes home.
DAY = (
    Visit("carport_left", 10.0, 11.5, "Delivery van", soc=0.5, target_soc=0.7),
    Visit("carport_left", 15.25, 16.5, "Visitor", soc=0.45, target_soc=0.6),
    Visit("carport_left", 17.0, 7.5, "Hatchback", soc=0.3, lag_cycles=4),
    Visit("carport_right", 12.0, 14.0, "Visitor", soc=0.4, phases=1, lag_cycles=3),
    Visit("carport_right", 14.5, 16.75, "Neighbour", soc=0.5, phases=1),
    Visit(
        "carport_right",
        17.5,
        8.0,
        "Van",
        soc=0.2,
        target_soc=0.9,
        battery_kwh=75.0,
        phases=1,
        max_a=32.0,
        lag_cycles=6,
    ),
    Visit("garage_1", 8.5, 9.5, "Compact", soc=0.6, battery_kwh=40.0, lag_cycles=2),
    Visit("garage_1", 15.0, 16.5, "Compact", soc=0.5, battery_kwh=40.0),
    Visit("garage_1", 18.0, 7.0, "Estate", soc=0.35),
    Visit(
        "garage_2",
        8.25,
        9.25,
        "Small car",
        soc=0.55,
        battery_kwh=35.0,
        id_tag=CARDS["Flat 2B"],
    ),
    Visit(
        "garage_2", 13.0, 16.75, "Saloon", soc=0.3, max_a=32.0, id_tag=CARDS["Flat 3C"]
    ),
    Visit(
        "garage_2", 17.25, 7.75, "SUV", soc=0.25, id_tag=CARDS["Flat 1A"], lag_cycles=5
    ),
)


def seconds_of_day() -> float:
    now = time.localtime()
    return now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec + time.time() % 1


def solar_w(plant: SolarPlant, seconds: float) -> float:
    """The plant's output at ``seconds`` into today (local time)."""
    midnight = (
        datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    return plant.power_w(midnight + timedelta(seconds=seconds))


async def serve(args: argparse.Namespace) -> None:
    plant = SolarPlant(ROOF, LATITUDE, LONGITUDE)
    sockets = SOCKETS[: args.chargers]
    parked = {name: Car(name, connected=False) for name in (*sockets, *WALLBOXES)}
    site = SimulatedSite(
        BuildingLoad(base_w=5_000.0, peak_w=26_000.0, profile="residential"),
        parked,
        alfen_sockets=len(sockets),
        grid_unit_id=args.unit_id,
        start_s=seconds_of_day(),
        import_kwh=12_345.0,
        meter_port=args.port,
        charger_port=args.charger_port,
        history_len=1000,  # the demo runs for hours and only serves readings
        solar=lambda seconds: solar_w(plant, seconds),
        solar_unit_id=args.solar_unit_id,
        battery_speedup=args.speed,
    )
    driveway = Driveway(site, [v for v in DAY if v.charger in parked])
    wallboxes = WallboxStation(list(WALLBOXES.values()), port=args.wallbox_port)
    await site.start()
    await wallboxes.start()
    print(
        f"simsite: SDM630 grid meter unit {args.unit_id}, solar meter unit "
        f"{args.solar_unit_id} on 127.0.0.1:{site.meter_port}",
        flush=True,
    )
    if sockets:
        print(
            f"simsite: Alfen Eve units 1..{len(sockets)} on 127.0.0.1:{site.charger_port}",
            flush=True,
        )
    print(f"simsite: wallboxes units 1, 2 on 127.0.0.1:{wallboxes.port}", flush=True)
    started = time.monotonic()
    last = started
    try:
        while True:
            await asyncio.sleep(args.interval)
            now = time.monotonic()
            hour = args.start_hour + (now - started) * args.speed / 3600.0
            driveway.update(hour)
            setpoints = {
                name: min(wallboxes.limit_a(unit), WALLBOX_MAX_A[name])
                for name, unit in WALLBOXES.items()
            }
            site.step(seconds_of_day(), now - last, setpoints)
            for name, unit in WALLBOXES.items():
                wallboxes.publish(
                    unit,
                    site.cars[name],
                    site.voltage_v,
                    now - last,
                    driveway.id_tag(name),
                )
            last = now
    finally:
        await wallboxes.stop()
        await site.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=15020)
    parser.add_argument("--unit-id", type=int, default=1)
    parser.add_argument("--solar-unit-id", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument(
        "--chargers", type=int, choices=range(MAX_ALFEN_SOCKETS + 1), default=2
    )
    parser.add_argument("--charger-port", type=int, default=15021)
    parser.add_argument("--wallbox-port", type=int, default=15022)
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="how many times faster the cars' day runs (60: a day in 24 minutes)",
    )
    parser.add_argument(
        "--start-hour",
        type=float,
        default=16.0,
        help="the hour of the cars' day at start (16: visitors leave, residents come home)",
    )
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
