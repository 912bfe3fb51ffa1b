"""Benchmarks use the tests' Home Assistant set-up (custom integration, loopback)."""

from tests.conftest import auto_enable_custom_integrations

__all__ = ["auto_enable_custom_integrations"]
