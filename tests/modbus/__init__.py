"""Tests of the Modbus layer against a real pymodbus server on loopback."""
