"""Modbus layer: declarative device profiles, a pure codec and shared async clients."""
