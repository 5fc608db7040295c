"""Runtime management: pause, shutdown, drain, log levels, environment and the audit log.

Private to the package: users import from ``actuator``.
"""
