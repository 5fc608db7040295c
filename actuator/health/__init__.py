"""Health: statuses, results, indicators, aggregation, groups, HTTP mapping, availability.

Private to the package: users import from ``actuator``.
"""
