"""Info: the contributor protocol, the built-in contributors and build info.

Private to the package: users import from ``actuator``.
"""
