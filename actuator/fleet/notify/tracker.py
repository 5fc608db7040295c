"""What one rule knows about one subject (an instance or a group), and when it speaks.

A ``Tracker`` is fed every status the subject takes (``observe``) and asked,
once per round, what to say (``tick``). It is plain data, stored as JSON
between rounds, so whichever console runs the next round carries on::

    tracker = Tracker()
    tracker.observe("DOWN", at=100.0, rule=rule)
    tracker.tick(rule, now=160.0)    # [Decision("change", "DOWN", None, 100.0)] with hold = 60

- **Damping, both ways**: a change (into an alarm status or out of it) is
  said only once it has held ``hold`` seconds and ``confirm`` rounds have
  seen it; a blip that reverts before that is never said.
- **Flapping**: ``flap_changes`` changes within ``flap_window`` seconds are
  said once, as ``flapping``; nothing more until the subject has kept one
  status for ``flap_window`` seconds, which is said as ``stable``.
- **Reminders**: every ``remind_every`` seconds while the status said last
  is an alarm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from actuator.fleet.notify.config import RuleConfig

Kind = Literal["change", "reminder", "flapping", "stable"]


@dataclass(frozen=True)
class Decision:
    """Something to say: ``kind``, the ``status`` (and the one said before), since when."""

    kind: Kind
    status: str
    previous: str | None
    since: float


@dataclass
class Tracker:
    notified: str | None = None
    """The status last said (or the first one seen, when it was no alarm)."""
    current: str | None = None
    since: float = 0.0
    seen: int = 0
    """Rounds that saw ``current`` (the one that first saw it included)."""
    changes: list[float] = field(default_factory=list)
    flapping: bool = False
    reminded: float | None = None

    def observe(
        self, status: str, at: float, rule: RuleConfig, previous: str | None = None
    ) -> None:
        """The subject has ``status`` as of ``at`` (a change, or the same status again).
        ``previous``, its status before, is the baseline of a tracker seeing it first."""
        if self.current is None and previous is not None:
            self.current = self.notified = previous
            self.since = at
        if status == self.current:
            return
        if self.current is not None:
            self.changes.append(at)
        self.current, self.since, self.seen = status, at, 0
        self._forget_changes(at, rule)

    def tick(self, rule: RuleConfig, now: float) -> list[Decision]:
        """What to say this round (each call is one round that saw the current status)."""
        if self.current is None:
            return []
        self.seen += 1
        self._forget_changes(now, rule)
        if self.flapping:
            last = self.changes[-1] if self.changes else self.since
            if now - last < rule.flap_window:
                return []
            self.flapping = False
            previous, self.notified = self.notified, self.current
            self.reminded = now if rule.alarm(self.current) else None
            return [Decision("stable", self.current, previous, self.since)]
        if rule.flap_changes and len(self.changes) >= rule.flap_changes:
            self.flapping = True
            self.reminded = None
            return [Decision("flapping", self.current, self.notified, self.since)]
        if self.current != self.notified:
            if now - self.since < rule.hold or self.seen < rule.confirm:
                return []
            previous, self.notified = self.notified, self.current
            alarm = rule.alarm(self.current)
            self.reminded = now if alarm else None
            if alarm or (rule.recovery and rule.alarm(previous)):
                return [Decision("change", self.current, previous, self.since)]
            return []
        if (
            rule.remind_every
            and self.reminded is not None
            and rule.alarm(self.current)
            and now - self.reminded >= rule.remind_every
        ):
            self.reminded = now
            return [Decision("reminder", self.current, self.current, self.since)]
        return []

    def due(self, rule: RuleConfig) -> float | None:
        """When a round next has something to do for this tracker without a new change
        (``None``: only a change wakes it)."""
        if self.current is None:
            return None
        if self.flapping:
            last = self.changes[-1] if self.changes else self.since
            return last + rule.flap_window
        if self.current != self.notified:
            # Pending: every round until confirmed (rounds count towards confirm).
            return self.since + rule.hold if self.seen >= rule.confirm else self.since
        if rule.remind_every and self.reminded is not None and rule.alarm(self.current):
            return self.reminded + rule.remind_every
        return None

    def _forget_changes(self, now: float, rule: RuleConfig) -> None:
        horizon = now - rule.flap_window
        if self.changes and self.changes[0] <= horizon:
            self.changes = [at for at in self.changes if at > horizon]

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Tracker:
        return cls(**data)
