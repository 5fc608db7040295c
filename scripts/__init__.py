"""Maintenance scripts run by make targets (importable so the tests can use their functions)."""
