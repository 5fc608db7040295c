"""Servers of their own: the separate management port and the sidecar.

Private to the package: users import from ``actuator``.
"""
