"""Tests for the Stekker integration."""
