"""Pure balancing engine: no Home Assistant, no I/O, no clock reads."""
