"""Simulated site devices for tests and the demo (loopback only)."""
