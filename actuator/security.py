"""Who is calling: the identity an operation sees."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SecurityContext:
    """The caller of an operation.

    ``principal`` is the caller's identity (a token name, a user, a certificate
    subject) and ``roles`` what it was granted (``read``, ``full``). Anonymous
    callers have neither.
    """

    principal: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def authenticated(self) -> bool:
        return self.principal is not None

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = SecurityContext()
