"""Security: credentials and their hashes, request authentication, TLS.

Private to the package: users import from ``actuator``.
"""
