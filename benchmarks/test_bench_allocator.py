"""Speed of one allocation cycle on a large site (run with --benchmark-only)."""

from typing import Any

from custom_components.stekker.engine.allocator import (
    AllocatorConfig,
    AllocatorMemory,
    allocate,
)
from custom_components.stekker.engine.charger import ChargerSpec, ChargerStatus
from custom_components.stekker.engine.site import PHASES


def _fleet(n: int) -> list[tuple[ChargerSpec, ChargerStatus]]:
    """Mixed 1- and 3-phase chargers over the phases, three priorities, every
    seventh idle and every eleventh drawing less than it may."""
    fleet = []
    for i in range(n):
        spec = ChargerSpec(
            id=f"cp{i:03d}",
            phases=3 if i % 3 == 0 else 1,
            phase=PHASES[i % 3],
            min_a=6.0 if i % 4 else 8.0,
            max_a=(16.0, 32.0, 20.0)[i % 3],
            priority=(0, 0, 1, 2)[i % 4],
        )
        status = ChargerStatus(
            connected=i % 7 != 0, measured_a=4.0 if i % 11 == 0 else None
        )
        fleet.append((spec, status))
    return fleet


def test_allocate_100_chargers(benchmark: Any) -> None:
    """A steady-state cycle: memory from the previous cycles, room for some."""
    fleet = _fleet(100)
    available_a = {"l1": 400.0, "l2": 350.0, "l3": 380.0}
    config = AllocatorConfig()
    memory = AllocatorMemory()
    for n in range(20):
        memory = allocate(available_a, 250.0, fleet, memory, n * 30.0, config).memory
    result = benchmark(allocate, available_a, 250.0, fleet, memory, 600.0, config)
    assert sum(v > 0.0 for v in result.setpoints.values()) > 50
