"""Damping, flapping and reminders: one rule's view of one subject, with a made-up clock."""

from __future__ import annotations

from typing import Any

from actuator.fleet.notify.config import RuleConfig
from actuator.fleet.notify.tracker import Decision, Tracker


def rule(**options: Any) -> RuleConfig:
    return RuleConfig(channels=["ops"], **options)


def said(tracker: Tracker, r: RuleConfig, now: float) -> list[tuple[str, str, str | None]]:
    return [(d.kind, d.status, d.previous) for d in tracker.tick(r, now)]


def test_a_change_is_said_only_once_it_has_held_for_the_hold_time() -> None:
    r = rule(hold=60)
    tracker = Tracker()
    tracker.observe("DOWN", 100.0, r, previous="UP")
    assert said(tracker, r, 130.0) == []
    assert tracker.due(r) == 160.0
    assert tracker.tick(r, 160.0) == [Decision("change", "DOWN", "UP", 100.0)]
    assert said(tracker, r, 500.0) == []


def test_blips_shorter_than_the_hold_are_never_said_either_way() -> None:
    r = rule(hold=60, flap_changes=0)
    tracker = Tracker()
    tracker.observe("DOWN", 100.0, r, previous="UP")
    tracker.observe("UP", 120.0, r)  # a DOWN blip
    assert said(tracker, r, 200.0) == []
    tracker.observe("DOWN", 300.0, r)
    assert said(tracker, r, 360.0) == [("change", "DOWN", "UP")]
    tracker.observe("UP", 400.0, r)  # an UP blip while DOWN
    tracker.observe("DOWN", 410.0, r)
    assert said(tracker, r, 500.0) == []
    tracker.observe("UP", 600.0, r)
    assert said(tracker, r, 630.0) == []
    assert said(tracker, r, 660.0) == [("change", "UP", "DOWN")]


def test_confirm_counts_the_rounds_that_saw_the_new_status() -> None:
    r = rule(confirm=3)
    tracker = Tracker()
    tracker.observe("DOWN", 100.0, r, previous="UP")
    assert said(tracker, r, 101.0) == []
    assert tracker.due(r) == 100.0  # pending: every round is due
    assert said(tracker, r, 102.0) == []
    assert said(tracker, r, 103.0) == [("change", "DOWN", "UP")]


def test_flapping_is_said_once_then_stable_once_it_is_quiet() -> None:
    r = rule(hold=30, flap_changes=4, flap_window=300)
    tracker = Tracker()
    tracker.observe("UP", 0.0, r)
    assert said(tracker, r, 30.0) == []  # the baseline, no alarm: nothing said
    for i, status in enumerate(["DOWN", "UP", "DOWN", "UP", "DOWN", "UP", "DOWN"]):
        tracker.observe(status, 100.0 + 10 * i, r)
        tracker.tick(r, 101.0 + 10 * i)
    tracker = Tracker.load(tracker.dump())
    assert tracker.flapping
    assert said(tracker, r, 200.0) == []
    assert tracker.due(r) == 160.0 + 300
    assert said(tracker, r, 460.0) == [("stable", "DOWN", "UP")]
    assert said(tracker, r, 470.0) == []


def test_flapping_is_one_notification_however_many_changes() -> None:
    r = rule(flap_changes=3, flap_window=600)
    tracker = Tracker()
    tracker.observe("UP", 0.0, r)
    tracker.tick(r, 0.0)
    kinds = []
    for i in range(20):
        tracker.observe("DOWN" if i % 2 == 0 else "UP", 10.0 + i, r)
        kinds += [d.kind for d in tracker.tick(r, 10.5 + i)]
    assert kinds == ["change", "change", "flapping"]


def test_reminders_come_every_interval_while_down_and_stop_on_recovery() -> None:
    r = rule(remind_every=600)
    tracker = Tracker()
    tracker.observe("DOWN", 0.0, r, previous="UP")
    assert said(tracker, r, 1.0) == [("change", "DOWN", "UP")]
    assert said(tracker, r, 500.0) == []
    assert tracker.due(r) == 601.0
    assert said(tracker, r, 601.0) == [("reminder", "DOWN", "DOWN")]
    assert said(tracker, r, 1000.0) == []
    assert said(tracker, r, 1201.0) == [("reminder", "DOWN", "DOWN")]
    tracker.observe("UP", 1300.0, r)
    assert said(tracker, r, 1301.0) == [("change", "UP", "DOWN")]
    assert tracker.due(r) is None
    assert said(tracker, r, 5000.0) == []


def test_recovery_is_said_only_when_the_rule_asks_for_it() -> None:
    r = rule(recovery=False)
    tracker = Tracker()
    tracker.observe("DOWN", 0.0, r, previous="UP")
    assert said(tracker, r, 1.0) == [("change", "DOWN", "UP")]
    tracker.observe("UP", 5.0, r)
    assert said(tracker, r, 6.0) == []


def test_changes_between_statuses_that_are_no_alarm_are_not_said() -> None:
    r = rule(statuses=["DOWN"])
    tracker = Tracker()
    tracker.observe("OUT_OF_SERVICE", 0.0, r, previous="UP")
    assert said(tracker, r, 1.0) == []
    tracker.observe("DISCONNECTED", 2.0, r)
    assert said(tracker, r, 3.0) == []
    tracker.observe("DOWN", 4.0, r)
    assert said(tracker, r, 5.0) == [("change", "DOWN", "DISCONNECTED")]


def test_a_first_status_is_a_baseline_unless_it_is_an_alarm() -> None:
    r = rule()
    up, down = Tracker(), Tracker()
    up.observe("UP", 0.0, r)
    down.observe("DOWN", 0.0, r)
    assert said(up, r, 1.0) == []
    assert said(down, r, 1.0) == [("change", "DOWN", None)]
