"""Tests of the simulated site used by closed-loop tests and the demo."""
