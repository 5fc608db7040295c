"""Notifications end to end: a console on a real database, a real webhook server, rounds
driven by hand with a made-up clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator.fleet.app import FleetConsole
from tests.fleet.notify.support import ADMIN, Receiver, notify_config, webhook_server
from tests.fleet.support import INGEST, READ, Clock, register, running, status
from tests.support.server import free_port


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    with webhook_server() as served:
        yield served


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fleet.db'}"


def webhook(url: str, **options: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": url + "/hook", **options}


async def ingest(client: httpx.AsyncClient, *updates: dict[str, Any]) -> None:
    answer = await client.post("/fleet/api/ingest", json={"updates": list(updates)}, headers=INGEST)
    assert answer.status_code == 200, answer.text


async def log(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    answer = await client.get("/fleet/api/notifications", params=params, headers=READ)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def round_at(console: FleetConsole, clock: Clock, seconds: float) -> None:
    clock.now += seconds
    await console.notify()


async def round_held_at_the_receiver(
    console: FleetConsole, clock: Clock, receiver: Receiver
) -> asyncio.Task[Any]:
    """A round started one second on, whose attempt the receiver holds: the round's task,
    once the attempt has arrived."""
    receiver.hold()
    clock.now += 1
    held = asyncio.create_task(console.notify())
    await asyncio.to_thread(receiver.arrived.wait, 10)
    return held


async def die_mid_attempt(round_task: asyncio.Task[Any], receiver: Receiver) -> None:
    """The console stops between sending and recording the result; the receiver answers late."""
    round_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_task
    receiver.release()


@pytest.fixture
async def console_for(
    clock: Clock,
) -> AsyncIterator[Any]:
    """Start consoles as the test asks; all are stopped at its end."""
    started: list[Any] = []

    async def start(config: Any, **kwargs: Any) -> tuple[FleetConsole, httpx.AsyncClient]:
        console = FleetConsole(config, clock=clock, **kwargs)
        context = running(console)
        client = await context.__aenter__()
        started.append(context)
        await console.notify()  # the first round places the cursor
        return console, client

    yield start
    for context in reversed(started):
        await context.__aexit__(None, None, None)


async def test_an_instance_going_down_is_notified_once_with_the_documented_document(
    database_url: str, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        database_url,
        {"ops": webhook(url, headers={"X-Team": "orders"})},
        {"down": {"channels": ["ops"]}},
    )
    console, client = await console_for(config)
    await ingest(client, register("a", team="orders"), register("b"))
    await round_at(console, clock, 1)
    assert receiver.received == []  # coming UP is the baseline, not news

    await ingest(client, status("a", "DOWN", ["db"]))
    await round_at(console, clock, 1)
    await round_at(console, clock, 1)

    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.path == "/hook"
    assert request.headers["x-team"] == "orders"
    assert request.headers["content-type"] == "application/json"
    document = request.body
    assert request.headers["x-fleet-notification-id"] == document["id"]
    assert document["schema"] == "actuator.fleet.notification/v1"
    assert (document["kind"], document["rule"], document["status"]) == ("change", "down", "DOWN")
    assert document["previousStatus"] == "UP"
    assert document["summary"] == "a (orders) is DOWN (was UP): db"
    assert document["subject"]["kind"] == "instance"
    assert document["subject"]["facts"]["team"] == "orders"
    assert document["subject"]["componentsDown"] == ["db"]

    entries = (await log(client))["items"]
    assert [(e["state"], e["attempts"], e["result"], e["channel"]) for e in entries] == [
        ("sent", 1, "HTTP 200", "ops")
    ]
    assert entries[0]["document"] == document


async def test_a_group_rule_by_percentage_speaks_only_past_its_threshold(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path),
        {"ops": webhook(url)},
        {
            "orders-prod": {
                "on": "group",
                "channels": ["ops"],
                "down_percent": 20,
                "services": ["orders"],
                "where": {"environment": "prod"},
            }
        },
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"o{i}") for i in range(10)))
    await round_at(console, clock, 1)
    await ingest(client, status("o0", "DOWN"), status("o1", "DOWN"))
    await round_at(console, clock, 1)
    assert receiver.received == []  # 20% is not more than 20%

    await ingest(client, status("o2", "DOWN"))
    await round_at(console, clock, 1)
    [document] = receiver.bodies()
    assert document["subject"]["kind"] == "group"
    assert document["subject"]["percentDown"] == 30.0
    assert document["summary"].endswith("is DOWN (was UP): 3 of 10 instances DOWN")

    await ingest(client, status("o2", "UP"), status("o1", "UP"))
    await round_at(console, clock, 1)
    assert [b["status"] for b in receiver.bodies()] == ["DOWN", "UP"]


async def test_a_worst_of_group_rule_speaks_at_the_first_instance_down(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"groups": {"on": "group", "channels": ["ops"]}}
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"o{i}") for i in range(10)))
    await round_at(console, clock, 1)
    await ingest(client, status("o0", "DOWN"))
    await round_at(console, clock, 1)
    assert [(b["subject"]["name"], b["status"]) for b in receiver.bodies()] == [
        ("orders/prod/shop", "DOWN")
    ]


async def test_rules_filter_by_service_fact_and_status(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path),
        {"ops": webhook(url)},
        {
            "orders-team": {"channels": ["ops"], "services": ["orders"], "where": {"team": "a"}},
            "init": {"channels": ["ops"], "statuses": ["INIT"], "recovery": False},
        },
    )
    console, client = await console_for(config)
    await ingest(
        client,
        register("match", team="a"),
        register("other-team", team="b"),
        register("other-service", service="billing", team="a"),
    )
    await round_at(console, clock, 1)
    await ingest(
        client,
        status("match", "DOWN"),
        status("other-team", "DOWN"),
        status("other-service", "INIT"),
    )
    await round_at(console, clock, 1)
    assert sorted((b["rule"], b["subject"]["id"]) for b in receiver.bodies()) == [
        ("init", "other-service"),
        ("orders-team", "match"),
    ]


async def test_flapping_between_rounds_is_reported_once_as_flapping(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path),
        {"ops": webhook(url)},
        {"down": {"channels": ["ops"], "hold": 30, "flap_changes": 4, "flap_window": 120}},
    )
    console, client = await console_for(config)
    await ingest(client, register("a"))
    await round_at(console, clock, 31)
    for code in ["DOWN", "UP"] * 5:
        clock.now += 1
        await ingest(client, status("a", code))
    await round_at(console, clock, 1)
    await round_at(console, clock, 60)
    assert [(b["kind"], b["status"]) for b in receiver.bodies()] == [("flapping", "UP")]

    await round_at(console, clock, 120)
    assert [b["kind"] for b in receiver.bodies()] == ["flapping", "stable"]


async def test_reminders_repeat_while_an_instance_stays_down(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"], "remind_every": 60}}
    )
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    for _ in range(7):
        await round_at(console, clock, 20)
    assert [b["kind"] for b in receiver.bodies()] == ["change", "reminder", "reminder"]
    assert receiver.bodies()[1]["summary"].startswith("a (orders) is still DOWN, since ")


async def test_a_failing_channel_is_retried_with_backoff_until_it_recovers(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    receiver.fail = 2
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high

    console.notifier.uniform = uniform
    await ingest(client, register("a", "DOWN"))
    await round_at(console, clock, 1)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"], entry["result"]) == ("pending", 1, "HTTP 503")
    assert entry["nextAttempt"] is not None

    await round_at(console, clock, 0.5)  # before the back-off ends: no attempt
    assert len(receiver.received) == 1
    await round_at(console, clock, 0.5)
    await round_at(console, clock, 2)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"], entry["result"]) == ("sent", 3, "HTTP 200")
    assert draws == [(0.0, 1.0), (0.0, 2.0)]  # full jitter below a doubling bound
    ids = {r.headers["x-fleet-notification-id"] for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1


async def test_a_delivery_that_keeps_failing_is_logged_failed_after_its_attempts(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    receiver.fail = 100
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}}, attempts=3
    )
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    for _ in range(6):
        await round_at(console, clock, 10)
    [entry] = (await log(client, state="failed"))["items"]
    assert (entry["attempts"], entry["result"]) == (3, "HTTP 503")
    assert len(receiver.received) == 3


async def test_an_answer_no_retry_can_change_fails_at_once(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    receiver.fail, receiver.fail_status = 1, 404
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    await round_at(console, clock, 1)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"], entry["result"]) == ("failed", 1, "HTTP 404")


async def test_a_hung_channel_does_not_slow_ingest(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}}, timeout=60
    )
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    stuck = await round_held_at_the_receiver(console, clock, receiver)
    # The attempt hangs (for up to its 60 s deadline); ingest goes on meanwhile.
    for i in range(20):
        await asyncio.wait_for(ingest(client, register(f"b{i}"), status("a", "UP")), 5)
    assert not stuck.done()
    receiver.release()
    await asyncio.wait_for(stuck, 10)
    [entry] = (await log(client))["items"]
    assert entry["state"] == "sent"


async def test_two_consoles_on_one_database_send_each_notification_once(
    database_url: str, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(database_url, {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    first, client = await console_for(config)
    second, _ = await console_for(config)
    await ingest(client, *(register(f"i{n}") for n in range(20)))
    await ingest(client, *(status(f"i{n}", "DOWN") for n in range(20)))
    for _ in range(3):
        clock.now += 1
        await asyncio.gather(first.notify(), second.notify(), first.notify())
    subjects = sorted(b["subject"]["id"] for b in receiver.bodies())
    assert subjects == sorted(f"i{n}" for n in range(20))
    assert (await log(client, state="sent"))["total"] == 20


async def test_a_console_dying_mid_attempt_leaves_a_trace_and_the_delivery_is_sent_again(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    await die_mid_attempt(await round_held_at_the_receiver(console, clock, receiver), receiver)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"]) == ("sending", 1)

    await round_at(console, clock, 5)  # the lease has not run out: nobody sends it again
    assert len(receiver.received) == 1
    await round_at(console, clock, 60)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"]) == ("sent", 2)
    assert len({r.body["id"] for r in receiver.received}) == 1  # the receiver can deduplicate


async def test_secrets_from_the_environment_never_reach_the_log_or_the_api(
    tmp_path: Path,
    hook: tuple[Receiver, str],
    clock: Clock,
    console_for: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, url = hook
    receiver.fail = 100
    secret_url = url + "/hook/T000/B000/XXXXsecretpathXXXX"
    environ = {"HOOK_URL": secret_url, "HOOK_AUTH": "Bearer hunter2-notify-secret"}
    config = notify_config(
        sqlite(tmp_path),
        {
            "ops": {
                "type": "webhook",
                "url_env": "HOOK_URL",
                "headers_env": {"Authorization": "HOOK_AUTH"},
            },
            "dead": {"type": "slack", "url_env": "DEAD_URL"},
        },
        {"down": {"channels": ["ops", "dead"]}},
        attempts=2,
    )
    environ["DEAD_URL"] = "http://127.0.0.1:9/services/XXXXdeadsecretXXXX"
    caplog.set_level(logging.DEBUG)
    console, client = await console_for(config, environ=environ)
    await ingest(client, register("a", "DOWN"))
    for _ in range(4):
        await round_at(console, clock, 10)
    assert receiver.received[0].headers["authorization"] == "Bearer hunter2-notify-secret"
    entries = (await log(client))["items"]
    assert {e["state"] for e in entries} == {"failed"}
    texts = [caplog.text, str(entries), (await client.get("/fleet/api/mutes", headers=READ)).text]
    for text in texts:
        for secret in ("secretpath", "hunter2", "deadsecret"):
            assert secret not in text


async def test_mutes_are_managed_through_the_api_with_the_full_role(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    body = {"ends": "2027-01-15T09:00:00Z", "services": ["orders"], "reason": "upgrade"}
    refused = await client.post("/fleet/api/mutes", json=body, headers=READ)
    assert refused.status_code == 403
    created = await client.post("/fleet/api/mutes", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    mute = created.json()
    assert (mute["author"], mute["source"], mute["reason"]) == ("admin", "api", "upgrade")

    await ingest(client, register("a", "DOWN"), register("b", "DOWN", service="billing"))
    await round_at(console, clock, 1)
    assert [b["subject"]["id"] for b in receiver.bodies()] == ["b"]
    muted = (await log(client, state="muted"))["items"]
    assert [(e["subject"]["id"], e["result"]) for e in muted] == [
        ("a", f"muted by {mute['id']}: upgrade")
    ]
    listed = (await client.get("/fleet/api/mutes", headers=READ)).json()
    assert [m["id"] for m in listed["items"]] == [mute["id"]]

    assert (await client.delete(f"/fleet/api/mutes/{mute['id']}", headers=READ)).status_code == 403
    assert (await client.delete(f"/fleet/api/mutes/{mute['id']}", headers=ADMIN)).status_code == 204
    assert (await client.delete(f"/fleet/api/mutes/{mute['id']}", headers=ADMIN)).status_code == 404
    await ingest(client, status("a", "UP"))
    await round_at(console, clock, 1)
    await ingest(client, status("a", "DOWN"))
    await round_at(console, clock, 1)
    assert [(b["subject"]["id"], b["status"]) for b in receiver.bodies()][1:] == [
        ("a", "UP"),
        ("a", "DOWN"),
    ]


async def test_a_configured_mute_ends_at_its_end_time(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path),
        {"ops": webhook(url)},
        {"down": {"channels": ["ops"], "remind_every": 60}},
        mutes=[{"ends": "2027-01-15T08:02:00Z", "where": {"environment": "prod"}}],
    )
    console, client = await console_for(config)  # the clock starts at 08:00:00
    listed = (await client.get("/fleet/api/mutes", headers=READ)).json()["items"]
    assert [(m["source"], m["ends"]) for m in listed] == [("config", "2027-01-15T08:02:00.000Z")]
    await ingest(client, register("a", "DOWN"))
    await round_at(console, clock, 1)
    assert receiver.received == []
    for _ in range(4):
        await round_at(console, clock, 30)
    assert [b["kind"] for b in receiver.bodies()] == ["reminder"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"services": ["orders"]}, "Invalid ends: Field required"),
        ({"ends": "2020-01-01T00:00:00Z"}, "ends: the mute would already be over"),
        ({"ends": "2027-01-15T09:00:00"}, "Invalid ends: Input should have timezone info"),
        ({"ends": "2027-01-15T09:00:00Z", "team": "x"}, "Invalid team: Extra inputs"),
        (
            {"ends": "2027-01-15T09:00:00Z", "starts": "2027-01-15T10:00:00Z"},
            "ends must be after starts",
        ),
    ],
)
async def test_a_bad_mute_is_refused_naming_the_field(
    tmp_path: Path,
    hook: tuple[Receiver, str],
    console_for: Any,
    body: dict[str, Any],
    message: str,
) -> None:
    _, url = hook
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    _, client = await console_for(config)
    answer = await client.post("/fleet/api/mutes", json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert (await client.get("/fleet/api/mutes", headers=READ)).json()["total"] == 0


async def test_the_delivery_log_pages_and_filters_and_refuses_bad_parameters(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path),
        {"ops": webhook(url), "chat": {"type": "slack", "url": url + "/slack"}},
        {"down": {"channels": ["ops", "chat"]}},
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"i{n}", "DOWN") for n in range(3)))
    await round_at(console, clock, 1)
    page = await log(client, limit=2, offset=1)
    assert (page["total"], len(page["items"]), page["offset"]) == (6, 2, 1)
    chat = await log(client, channel="chat")
    assert {e["channel"] for e in chat["items"]} == {"chat"}
    assert chat["total"] == 3
    slack_bodies = [r.body for r in receiver.received if r.path == "/slack"]
    assert sorted(b["text"] for b in slack_bodies) == [f"i{n} (orders) is DOWN" for n in range(3)]
    for params in ({"state": "lost"}, {"limit": "0"}, {"colour": "red"}):
        answer = await client.get("/fleet/api/notifications", params=params, headers=READ)
        assert answer.status_code == 400
    assert (await client.get("/fleet/api/notifications")).status_code == 401


async def test_a_change_committed_late_behind_a_newer_one_is_still_seen(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    # On PostgreSQL another console's change can commit after a later-numbered one.
    receiver, url = hook
    config = notify_config(sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    await ingest(client, register("a"), register("b"))
    await round_at(console, clock, 1)
    store = console.notifier.store

    def insert(conn: Any, seq: int, subject: str) -> None:
        store.dialect.run(
            conn,
            "INSERT INTO fleet_events (seq, at, kind, subject, status, previous, components) "
            "VALUES (?, ?, 'instance', ?, 'DOWN', 'UP', '[]')",
            (seq, clock.now, subject),
        )

    top = await store.on_reader(
        lambda conn: int(store.dialect.run(conn, "SELECT max(seq) FROM fleet_events")[0][0])
    )
    await store.on_writer(lambda conn: insert(conn, top + 2, "b"))
    await round_at(console, clock, 1)
    await store.on_writer(lambda conn: insert(conn, top + 1, "a"))
    await round_at(console, clock, 1)
    assert sorted(b["subject"]["id"] for b in receiver.bodies()) == ["a", "b"]


async def test_the_delivery_log_keeps_only_its_newest_entries(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    _, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}}, keep=10
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"i{n}", "DOWN") for n in range(15)))
    await round_at(console, clock, 1)
    await round_at(console, clock, 1)
    page = await log(client, limit=100)
    assert page["total"] == 10
    assert {e["subject"]["id"] for e in page["items"]} == {f"i{n}" for n in range(5, 15)}


async def test_deliveries_for_a_channel_no_longer_configured_are_logged_failed(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    receiver.fail = 1
    database = sqlite(tmp_path)
    config = notify_config(database, {"ops": webhook(url)}, {"down": {"channels": ["ops"]}})
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    await round_at(console, clock, 1)
    console.notifier.senders.pop("ops")  # as after a restart with the channel renamed
    await round_at(console, clock, 60)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["result"]) == ("failed", "channel 'ops' is no longer configured")


async def test_a_delivery_whose_last_attempt_died_with_the_console_is_logged_failed(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}}, attempts=1
    )
    console, client = await console_for(config)
    await ingest(client, register("a", "DOWN"))
    await die_mid_attempt(await round_held_at_the_receiver(console, clock, receiver), receiver)
    await round_at(console, clock, 60)
    [entry] = (await log(client))["items"]
    assert (entry["state"], entry["attempts"]) == ("failed", 1)
    assert entry["result"] == "the console stopped during attempt 1"
    assert len(receiver.received) == 1


async def test_a_backlog_larger_than_a_batch_is_worked_through_round_by_round(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    config = notify_config(
        sqlite(tmp_path), {"ops": webhook(url)}, {"down": {"channels": ["ops"]}}, batch=2
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"i{n}") for n in range(5)))
    for _ in range(3):
        await round_at(console, clock, 1)
    await ingest(client, *(status(f"i{n}", "DOWN") for n in range(5)))
    for expected in (2, 4, 5):
        await round_at(console, clock, 1)
        assert len(receiver.received) == expected  # a full batch is no reason to wait


async def test_a_dead_channel_costs_one_wave_a_round_and_the_others_are_not_held_back(
    tmp_path: Path, hook: tuple[Receiver, str], clock: Clock, console_for: Any
) -> None:
    receiver, url = hook
    nobody = f"http://127.0.0.1:{free_port()}"  # refuses connections
    config = notify_config(
        sqlite(tmp_path),
        {"dead": webhook(nobody), "chat": {"type": "slack", "url": url + "/slack"}},
        {"down": {"channels": ["dead", "chat"]}},
        concurrency=2,
    )
    console, client = await console_for(config)
    await ingest(client, *(register(f"i{n}", "DOWN") for n in range(5)))
    clock.now += 1
    await console.notify()
    dead = (await log(client, channel="dead", limit=10))["items"]
    chat = (await log(client, channel="chat", limit=10))["items"]
    # One wave of two, then the channel waits out its back-off; the others' attempts
    # are put back uncounted.
    assert sorted(e["attempts"] for e in dead) == [0, 0, 0, 1, 1]
    assert {e["state"] for e in dead} == {"pending"}
    assert [e["result"].split(":")[0] for e in dead if e["attempts"]] == ["ConnectError"] * 2
    assert {e["state"] for e in chat} == {"sent"}
    assert len(receiver.received) == 5
