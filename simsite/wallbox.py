"""Chargers Home Assistant drives through `number` entities, as seen on the wire.

Many sites reach a charger through another integration: OCPP, a vendor's
cloud, or Home Assistant's own Modbus integration with a template number.
The demo does the last, so the wire is a plain register block per charger
(the layout below, no vendor's), which HA's `modbus` sensors read and a
template number's `set_value` writes with `modbus.write_register`:

Holding registers (FC3; written one at a time, FC6):
  0   current limit per phase, A (uint16); 0 pauses
Input registers (FC4):
  0   status bits (uint16): bit 0 a car is connected, bit 1 it is charging
  1   power, W (uint32, high word first)
  3   energy delivered in the charger's lifetime, Wh (uint32, high word first)
  5   id tag of the card that started the session: 16 ASCII characters,
      padded with spaces (all spaces without a card), like an OCPP id tag
"""

from typing import Final, override

from pymodbus.constants import ExcCodes

from custom_components.stekker.engine.site import PHASES

from .cars import Car
from .modbus_server import ModbusSimServer

LIMIT_REGISTER: Final = 0
MAX_LIMIT_A: Final = 80
STATE_REGISTER: Final = 0
POWER_REGISTER: Final = 1
ENERGY_REGISTER: Final = 3
ID_TAG_REGISTER: Final = 5
ID_TAG_CHARS: Final = 16
NO_CAR, PLUGGED_IN, CHARGING = 0b00, 0b01, 0b11


def _uint32(value: float) -> list[int]:
    raw = max(0, min(0xFFFFFFFF, round(value)))
    return [raw >> 16, raw & 0xFFFF]


def _text(text: str) -> list[int]:
    data = text.encode("ascii")[:ID_TAG_CHARS].ljust(ID_TAG_CHARS, b" ")
    return [data[i] << 8 | data[i + 1] for i in range(0, ID_TAG_CHARS, 2)]


class WallboxStation(ModbusSimServer):
    """Wallboxes on one Modbus TCP port, one unit id each.

    Only the current limit is writable, one register, 0..80 A; anything else
    is refused the way a device refuses it, so a wrong configuration fails here
    as it would on site. Each wallbox keeps its limit until it is written
    again (as OCPP charge points keep their charging profile).
    """

    def __init__(self, units: list[int], *, port: int = 0) -> None:
        """Serve ``units`` on 127.0.0.1 with no car, paused, counters at zero."""
        super().__init__(port=port)
        self._energy_wh = dict.fromkeys(units, 0.0)
        for unit in units:
            self.set_registers(unit, 3, LIMIT_REGISTER, [0])
            self.set_registers(unit, 4, STATE_REGISTER, [NO_CAR, 0, 0, 0, 0])
            self.set_registers(unit, 4, ID_TAG_REGISTER, _text(""))

    def limit_a(self, unit: int) -> float:
        """The current limit Home Assistant last wrote (0 before it wrote one)."""
        return float(self.get_registers(unit, 3, LIMIT_REGISTER, 1)[0])

    def publish(
        self, unit: int, car: Car, voltage_v: float, dt_s: float, id_tag: str = ""
    ) -> None:
        """Show what the wallbox measures after ``dt_s`` seconds of ``car``'s draw."""
        power_w = sum(car.phase_currents()[p] for p in PHASES) * voltage_v
        self._energy_wh[unit] += power_w * dt_s / 3600.0
        state = NO_CAR if not car.connected else CHARGING if power_w > 0 else PLUGGED_IN
        words = [state, *_uint32(power_w), *_uint32(self._energy_wh[unit])]
        self.set_registers(unit, 4, STATE_REGISTER, words)
        self.set_registers(
            unit, 4, ID_TAG_REGISTER, _text(id_tag if car.connected else "")
        )

    @override
    def refusal(
        self,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function_code not in (6, 16) or set_values is None:
            return None
        if address != LIMIT_REGISTER or len(set_values) != 1:
            return ExcCodes.ILLEGAL_ADDRESS
        return (
            None if 0 <= int(set_values[0]) <= MAX_LIMIT_A else ExcCodes.ILLEGAL_VALUE
        )
