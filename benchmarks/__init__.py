"""Benchmarks: figures for scripts/bench, never pass/fail on time."""
