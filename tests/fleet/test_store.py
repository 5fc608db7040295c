"""The store's behaviour, the same tests on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from actuator.fleet.dialects import dialect_for
from actuator.fleet.model import Grouping, GroupQuery, InstanceQuery, InstanceUpdate, rank
from actuator.fleet.store import SqlStore, open_store

T0 = 1_800_000_000.0


def register(
    iid: str,
    status: str = "UP",
    *,
    service: str = "orders",
    version: str = "1.0",
    env: str = "prod",
    app: str = "shop",
    **facts: Any,
) -> InstanceUpdate:
    return InstanceUpdate(
        type="register",
        id=iid,
        status=status,
        service=service,
        version=version,
        url=f"http://{iid}:8080/actuator",
        facts={"environment": env, "application": app, **facts},
    )


def status(iid: str, code: str, components: list[str] | None = None) -> InstanceUpdate:
    return InstanceUpdate(type="status", id=iid, status=code, components=components or [])


async def only_group(store: SqlStore) -> dict[str, Any]:
    page = await store.groups(GroupQuery())
    assert page.total == 1
    return page.items[0]


async def test_register_creates_the_instance_and_its_group(store: SqlStore) -> None:
    result = await store.ingest([register("a", team="orders")], now=T0)

    assert result.json() == {"accepted": 1, "unknown": [], "changes": 1}
    instance = await store.instance("a")
    assert instance is not None
    assert instance["status"] == "UP"
    assert instance["service"] == "orders"
    assert instance["facts"] == {"environment": "prod", "application": "shop", "team": "orders"}
    assert instance["lastSeen"] == "2027-01-15T08:00:00.000Z"
    group = await only_group(store)
    assert (
        group["id"]
        == instance["group"]
        == Grouping().group_id({"service": "orders", "environment": "prod", "application": "shop"})
    )
    assert group["keys"] == {"service": "orders", "environment": "prod", "application": "shop"}
    assert group["name"] == "orders/prod/shop"
    assert (group["status"], group["instances"], group["percentUp"]) == ("UP", 1, 100.0)


async def test_facts_are_stored_as_text_labels(store: SqlStore) -> None:
    await store.ingest([register("a", replicas=3, canary=True)], now=T0)

    instance = await store.instance("a")
    assert instance is not None
    assert instance["facts"]["replicas"] == "3"
    assert instance["facts"]["canary"] == "true"
    page = await store.instances(InstanceQuery(facts={"canary": "true"}))
    assert page.total == 1


async def test_heartbeats_record_no_history_but_status_changes_do(store: SqlStore) -> None:
    await store.ingest([register("a")], now=T0)
    for i in range(5):
        await store.ingest([status("a", "UP")], now=T0 + i + 1)
    await store.ingest([status("a", "DOWN", ["db"])], now=T0 + 10)
    await store.ingest([status("a", "DOWN", ["db"])], now=T0 + 11)

    history = await store.history("instance", "a")
    assert [(e["status"], e["previousStatus"]) for e in history] == [("DOWN", "UP"), ("UP", None)]
    assert history[0]["componentsDown"] == ["db"]
    instance = await store.instance("a")
    assert instance is not None
    assert instance["previousStatus"] == "UP"
    assert instance["componentsDown"] == ["db"]
    assert instance["statusSince"] == "2027-01-15T08:00:10.000Z"
    assert instance["lastSeen"] == "2027-01-15T08:00:11.000Z"
    groups = await store.history("group", instance["group"])
    assert [e["status"] for e in groups] == ["DOWN", "UP"]


async def test_a_status_for_an_unknown_instance_is_reported_and_stores_nothing(
    store: SqlStore,
) -> None:
    result = await store.ingest([status("ghost", "UP")], now=T0)

    assert result.json() == {"accepted": 0, "unknown": ["ghost"], "changes": 0}
    assert (await store.instances(InstanceQuery())).total == 0
    assert (await store.groups(GroupQuery())).total == 0


async def test_reregistering_with_the_same_status_keeps_when_it_changed(store: SqlStore) -> None:
    await store.ingest([register("a", version="1.0")], now=T0)
    await store.ingest([register("a", version="1.1")], now=T0 + 60)

    instance = await store.instance("a")
    assert instance is not None
    assert instance["version"] == "1.1"
    assert instance["statusSince"] == "2027-01-15T08:00:00.000Z"
    assert len(await store.history("instance", "a")) == 1


async def test_reregistering_into_another_group_moves_the_instance(store: SqlStore) -> None:
    await store.ingest([register("a", env="staging")], now=T0)
    await store.ingest([register("a", env="prod")], now=T0 + 1)

    page = await store.groups(GroupQuery())
    assert [g["keys"]["environment"] for g in page.items] == ["prod"]


async def test_deregister_removes_the_instance_and_its_empty_group(store: SqlStore) -> None:
    await store.ingest([register("a"), register("b", service="billing")], now=T0)
    await store.ingest([InstanceUpdate(type="deregister", id="a")], now=T0 + 1)

    assert await store.instance("a") is None
    assert [g["service"] for g in (await store.groups(GroupQuery())).items] == ["billing"]


async def test_repeated_ids_in_one_batch_apply_in_order(store: SqlStore) -> None:
    await store.ingest(
        [register("a"), status("a", "DOWN"), status("a", "UP"), status("a", "OUT_OF_SERVICE")],
        now=T0,
    )

    instance = await store.instance("a")
    assert instance is not None
    assert (instance["status"], instance["previousStatus"]) == ("OUT_OF_SERVICE", "UP")
    history = await store.history("instance", "a")
    assert [e["status"] for e in history] == ["OUT_OF_SERVICE", "UP", "DOWN", "UP"]


async def test_a_failed_batch_changes_nothing(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.ingest([register("a")], now=T0)

    def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_regroup", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await store.ingest([status("a", "DOWN"), register("b")], now=T0 + 1)
    monkeypatch.undo()

    instance = await store.instance("a")
    assert instance is not None
    assert instance["status"] == "UP"
    assert await store.instance("b") is None
    assert len(await store.history("instance", "a")) == 1


async def test_group_rollup_counts_versions_and_status(store: SqlStore) -> None:
    await store.ingest(
        [register(f"i{i}", version="1.0" if i < 7 else "1.1") for i in range(10)], now=T0
    )
    await store.ingest([status("i0", "DOWN")], now=T0 + 1)

    group = await only_group(store)
    assert group["status"] == "DOWN"
    assert group["counts"] == {"DOWN": 1, "UP": 9}
    assert (group["up"], group["down"], group["percentUp"]) == (9, 1, 90.0)
    assert group["versions"] == {"1.0": 7, "1.1": 3}
    assert group["previousStatus"] == "UP"


@pytest.mark.parametrize("grouping", [Grouping(down_threshold=20)])
async def test_a_percentage_threshold_keeps_a_group_up_below_it(store: SqlStore) -> None:
    await store.ingest([register(f"i{i}") for i in range(10)], now=T0)
    await store.ingest([status("i0", "DOWN"), status("i1", "DOWN")], now=T0 + 1)
    assert (await only_group(store))["status"] == "UP"

    await store.ingest([status("i2", "DOWN")], now=T0 + 2)
    assert (await only_group(store))["status"] == "DOWN"


@pytest.mark.parametrize("grouping", [Grouping(keys=("service", "region"))])
async def test_grouping_keys_are_configurable(store: SqlStore) -> None:
    await store.ingest(
        [
            register("a", region="eu"),
            register("b", region="us"),
            register("c", region="eu", env="staging"),
        ],
        now=T0,
    )

    page = await store.groups(GroupQuery(sort="name"))
    assert [(g["name"], g["instances"]) for g in page.items] == [("orders/eu", 2), ("orders/us", 1)]


async def fleet(store: SqlStore) -> None:
    updates = []
    for i in range(30):
        service = ("orders", "billing", "search")[i % 3]
        updates.append(
            register(
                f"{service}-{i:02d}",
                service=service,
                version="2.0" if i % 2 else "1.9",
                team="shop" if service != "search" else "find",
                env="prod" if i < 24 else "staging",
            )
        )
    await store.ingest(updates, now=T0)
    await store.ingest(
        [
            status("orders-00", "DOWN"),
            status("billing-01", "OUT_OF_SERVICE"),
            status("search-02", "DOWN"),
            status("orders-27", "INIT"),
        ],
        now=T0 + 5,
    )


async def test_instances_filter_by_status_service_fact_version_and_text(store: SqlStore) -> None:
    await fleet(store)

    async def ids(**query: Any) -> list[str]:
        page = await store.instances(InstanceQuery(limit=100, **query))
        assert page.total == len(page.items)
        return [item["id"] for item in page.items]

    assert await ids(statuses=["DOWN"]) == ["orders-00", "search-02"]
    assert await ids(statuses=["DOWN"], facts={"team": "shop"}) == ["orders-00"]
    assert await ids(services=["billing"], versions=["1.9"]) == [
        "billing-04",
        "billing-10",
        "billing-16",
        "billing-22",
        "billing-28",
    ]
    assert await ids(facts={"team": "shop", "environment": "staging"}) == [
        "billing-25",
        "billing-28",
        "orders-24",
        "orders-27",
    ]
    assert await ids(text="CH-0") == ["search-02", "search-05", "search-08"]
    assert await ids(text="%") == []
    assert await ids(facts={"team": "nobody"}) == []


async def test_instances_sort_and_page_with_a_total(store: SqlStore) -> None:
    await fleet(store)

    first = await store.instances(InstanceQuery(sort="status", descending=True, limit=3))
    assert first.total == 30
    assert [i["status"] for i in first.items] == ["DOWN", "DOWN", "OUT_OF_SERVICE"]
    second = await store.instances(InstanceQuery(sort="status", descending=True, limit=3, offset=3))
    assert [i["status"] for i in second.items] == ["INIT", "UP", "UP"]
    last = await store.instances(InstanceQuery(sort="id", descending=True, limit=2))
    assert [i["id"] for i in last.items] == ["search-29", "search-26"]
    with pytest.raises(ValueError, match="sort must be one of"):
        await store.instances(InstanceQuery(sort="password"))


async def test_groups_sort_worst_first_and_filter_by_facts(store: SqlStore) -> None:
    await fleet(store)

    page = await store.groups(GroupQuery())
    assert page.total == 6
    assert [(g["name"], g["status"]) for g in page.items] == [
        ("orders/prod/shop", "DOWN"),
        ("search/prod/shop", "DOWN"),
        ("billing/prod/shop", "OUT_OF_SERVICE"),
        ("orders/staging/shop", "INIT"),
        ("billing/staging/shop", "UP"),
        ("search/staging/shop", "UP"),
    ]
    staging = await store.groups(GroupQuery(facts={"environment": "staging"}, sort="name"))
    assert [g["name"] for g in staging.items] == [
        "billing/staging/shop",
        "orders/staging/shop",
        "search/staging/shop",
    ]
    found = await store.groups(GroupQuery(facts={"team": "find"}, statuses=["UP"]))
    assert [g["name"] for g in found.items] == ["search/staging/shop"]
    paged = await store.groups(GroupQuery(sort="percentUp", limit=2, offset=1))
    assert paged.total == 6
    assert len(paged.items) == 2


async def test_counts_cover_the_whole_fleet(store: SqlStore) -> None:
    await fleet(store)

    assert await store.counts() == {
        "instances": {
            "total": 30,
            "statuses": {"UP": 26, "DOWN": 2, "OUT_OF_SERVICE": 1, "INIT": 1},
        },
        "groups": {"total": 6, "statuses": {"DOWN": 2, "OUT_OF_SERVICE": 1, "INIT": 1, "UP": 2}},
    }


async def test_counts_and_rollups_follow_every_kind_of_change(store: SqlStore) -> None:
    # Counts and group rollups are kept by the changes, not recounted: after
    # registrations, moves between groups, version changes, status changes within
    # one batch, heartbeats, deregistration and both sweeps they equal a recount.
    await store.ingest(
        [register(f"i{n}", version="1.0", env="prod" if n % 2 else "test") for n in range(8)],
        now=T0,
    )
    await store.ingest(
        [
            status("i0", "DOWN", ["db"]),
            status("i0", "UP"),
            status("i0", "DOWN"),
            status("i1", "UP"),
            register("i2", "INIT", version="2.0", env="prod"),
            register("i3", version="2.0"),
            InstanceUpdate(type="deregister", id="i4"),
        ],
        now=T0 + 10,
    )
    await store.ingest([status(f"i{n}", "UP") for n in (0, 1, 2, 3, 5)], now=T0 + 200)
    await store.sweep(T0 + 301, disconnect_after=300, forget_after=3600)
    await store.sweep(T0 + 3401, disconnect_after=3600, forget_after=3400)

    everyone = (await store.instances(InstanceQuery(limit=100))).items
    expected: dict[str, int] = {}
    for item in everyone:
        expected[item["status"]] = expected.get(item["status"], 0) + 1
    counts = await store.counts()
    assert counts["instances"] == {"total": len(everyone), "statuses": expected}
    assert expected == {"UP": 5}  # i6 and i7 were disconnected, then forgotten
    for group in (await store.groups(GroupQuery())).items:
        members = [i for i in everyone if i["group"] == group["id"]]
        assert group["instances"] == len(members)
        assert sum(group["counts"].values()) == len(members)
        assert sum(group["versions"].values()) == len(members)
    assert counts["groups"]["total"] == 2


async def test_rollup_counts_equal_the_counts_through_changes_sweeps_and_removals(
    store: SqlStore,
) -> None:
    await fleet(store)
    assert await store.rollup_counts() == await store.counts()
    await store.ingest(
        [
            status("orders-00", "DOWN", ["db"]),
            InstanceUpdate(type="deregister", id="billing-01"),
            register("search-03", service="billing"),  # moves to another group
        ],
        now=T0 + 350,
    )
    await store.sweep(T0 + 400, disconnect_after=300, forget_after=3600)
    counts = await store.counts()
    assert counts["instances"]["statuses"].get("DISCONNECTED", 0) > 0
    assert await store.rollup_counts() == counts


async def test_the_stamp_moves_with_changes_and_membership_not_with_heartbeats(
    store: SqlStore,
) -> None:
    empty = await store.stamp()
    await store.ingest([register("a"), register("b")], now=T0)
    registered = await store.stamp()
    assert registered != empty
    await store.ingest([status("a", "UP")], now=T0 + 1)
    assert await store.stamp() == registered
    await store.ingest([status("a", "DOWN")], now=T0 + 2)
    changed = await store.stamp()
    assert changed != registered
    await store.ingest([InstanceUpdate(type="deregister", id="b")], now=T0 + 3)
    assert await store.stamp() != changed


async def test_sweep_disconnects_the_silent_and_they_come_back_on_a_report(store: SqlStore) -> None:
    await store.ingest([register("a"), register("b", "DOWN")], now=T0)
    await store.ingest([status("a", "UP")], now=T0 + 200)

    swept = await store.sweep(T0 + 301, disconnect_after=300, forget_after=3600)
    assert (swept.disconnected, swept.forgotten) == (1, 0)
    b = await store.instance("b")
    assert b is not None
    assert (b["status"], b["previousStatus"]) == ("DISCONNECTED", "DOWN")
    assert (await only_group(store))["status"] == "DISCONNECTED"
    again = await store.sweep(T0 + 302, disconnect_after=300, forget_after=3600)
    assert again.disconnected == 0

    await store.ingest([status("b", "UP")], now=T0 + 400)
    b = await store.instance("b")
    assert b is not None
    assert (b["status"], b["previousStatus"]) == ("UP", "DISCONNECTED")
    assert (await only_group(store))["status"] == "UP"
    assert [e["status"] for e in await store.history("instance", "b")] == [
        "UP",
        "DISCONNECTED",
        "DOWN",
    ]


async def test_sweep_forgets_instances_silent_too_long(store: SqlStore) -> None:
    await store.ingest([register("a"), register("b", service="billing")], now=T0)
    await store.ingest([status("a", "UP")], now=T0 + 3000)

    swept = await store.sweep(T0 + 3601, disconnect_after=300, forget_after=3600)

    assert swept.forgotten == 1
    assert await store.instance("b") is None
    assert [g["service"] for g in (await store.groups(GroupQuery())).items] == ["orders"]


async def test_sweep_bounds_history_by_count_and_age(store: SqlStore) -> None:
    await store.ingest([register("a")], now=T0)
    for i in range(1, 21):
        await store.ingest([status("a", "DOWN" if i % 2 else "UP")], now=T0 + i * 100)

    swept = await store.sweep(
        T0 + 2000, disconnect_after=1e6, forget_after=1e7, keep_events=15, events_max_age=1e6
    )
    history = await store.history("instance", "a", limit=100)
    assert len(history) <= 15
    assert history[0]["at"] == "2027-01-15T08:33:20.000Z"
    assert swept.events_dropped > 0

    await store.sweep(
        T0 + 2000, disconnect_after=1e6, forget_after=1e7, keep_events=1000, events_max_age=550
    )
    assert [e["at"] for e in await store.history("instance", "a")] == [
        "2027-01-15T08:33:20.000Z",
        "2027-01-15T08:31:40.000Z",
        "2027-01-15T08:30:00.000Z",
        "2027-01-15T08:28:20.000Z",
        "2027-01-15T08:26:40.000Z",
        "2027-01-15T08:25:00.000Z",
    ]


async def test_reopening_keeps_the_data_and_the_schema_version(database_url: str) -> None:
    first = open_store(database_url)
    await first.open()
    await first.ingest([register("a")], now=T0)
    await first.close()

    second = open_store(database_url)
    await second.open()
    try:
        assert await second.schema_version() == len(second.dialect.schema())
        assert await second.instance("a") is not None
    finally:
        await second.close()


async def test_a_new_migration_upgrades_an_existing_database_in_place(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = open_store(database_url)
    await old.open()
    await old.ingest([register("a")], now=T0)
    await old.close()

    new = open_store(database_url)
    v1 = new.dialect.schema()
    monkeypatch.setattr(
        new.dialect, "schema", lambda: [*v1, ["ALTER TABLE fleet_instances ADD COLUMN zone TEXT"]]
    )
    await new.open()
    try:
        assert await new.schema_version() == len(v1) + 1
        assert await new.instance("a") is not None
    finally:
        await new.close()


async def test_a_database_newer_than_the_code_is_refused(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(database_url)
    v1 = store.dialect.schema()
    monkeypatch.setattr(store.dialect, "schema", lambda: [*v1, ["SELECT 1"]])
    await store.open()
    await store.close()
    monkeypatch.undo()

    older = open_store(database_url)
    with pytest.raises(RuntimeError, match="newer than this console knows"):
        await older.open()
    await older.close()


def _write_first_version_rows(url: str) -> None:
    """Two instances (one DOWN) and their group, as a console of schema version 1 stored
    them: later versions derive their side tables from these rows when they migrate."""
    dialect = dialect_for(url)
    conn = dialect.connect()
    grouping = Grouping()
    values = grouping.values("orders", {"environment": "prod", "application": "shop"})
    gid = grouping.group_id(values)
    j = dialect.json_param()
    try:
        for iid, code, team in (("a", "UP", "orders"), ("b", "DOWN", "billing")):
            facts = {"environment": "prod", "application": "shop", "team": team}
            dialect.run(
                conn,
                "INSERT INTO fleet_instances (id, service, group_id, status, rank, "
                "previous_status, status_since, last_seen, registered, version, url, "
                f"components, facts, build, git) VALUES (?, 'orders', ?, ?, ?, NULL, ?, ?, ?, "
                f"'1.0', NULL, '[]', {j}, '{{}}', '{{}}')",
                (iid, gid, code, rank(code), T0, T0, T0, json.dumps(facts)),
            )
        dialect.run(
            conn,
            "INSERT INTO fleet_groups (id, service, name, keys, status, rank, previous_status, "
            "status_since, total, up, down, disconnected, percent_up, counts, versions) "
            f"VALUES (?, 'orders', 'orders/prod/shop', {j}, 'DOWN', ?, NULL, ?, 2, 1, 1, 0, 50, "
            """'{"DOWN": 1, "UP": 1}', '{"1.0": 2}')""",
            (gid, json.dumps(values), rank("DOWN"), T0),
        )
    finally:
        conn.close()


async def test_upgrading_a_first_version_database_keeps_facts_filterable_and_counted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = open_store(database_url)
    first = old.dialect.schema()[0]
    monkeypatch.setattr(old.dialect, "schema", lambda: [first])
    await old.open()
    await old.close()
    monkeypatch.undo()
    _write_first_version_rows(database_url)

    upgraded = open_store(database_url)
    await upgraded.open()
    try:
        assert await upgraded.schema_version() == len(upgraded.dialect.schema())
        page = await upgraded.instances(InstanceQuery(facts={"team": "orders"}))
        assert [i["id"] for i in page.items] == ["a"]
        assert (await upgraded.counts())["instances"] == {
            "total": 2,
            "statuses": {"UP": 1, "DOWN": 1},
        }
        # Per-fact counts are derived from the stored instances too.
        billing = await upgraded.groups(GroupQuery(facts={"team": "billing"}))
        down = await upgraded.instances(InstanceQuery(facts={"team": "billing"}, statuses=["DOWN"]))
        assert (billing.total, down.total, [i["id"] for i in down.items]) == (1, 1, ["b"])
        # The rollup carries on from the migrated counts.
        await upgraded.ingest([status("b", "UP")], now=T0 + 1)
        group = await only_group(upgraded)
        assert (group["status"], group["counts"], group["versions"]) == (
            "UP",
            {"UP": 2},
            {"1.0": 2},
        )
    finally:
        await upgraded.close()


async def test_fact_filters_follow_reregistration_and_removal(store: SqlStore) -> None:
    await store.ingest([register("a", team="orders"), register("b", team="orders")], now=T0)
    await store.ingest([register("a", team="billing")], now=T0 + 1)
    await store.ingest([InstanceUpdate(type="deregister", id="b")], now=T0 + 2)

    orders = await store.instances(InstanceQuery(facts={"team": "orders"}))
    billing = await store.instances(InstanceQuery(facts={"team": "billing"}))
    assert (orders.total, [i["id"] for i in billing.items]) == (0, ["a"])


async def test_fact_counts_equal_a_recount_through_changes_sweeps_and_removals(
    store: SqlStore,
) -> None:
    # An instance filter on one fact is counted from fleet_group_facts, and a group
    # filter on a fact that is not a grouping key finds its groups there: both kept
    # by the changes, so after every kind of change they equal a recount.
    await fleet(store)
    await store.ingest(
        [
            status("orders-00", "UP"),
            status("orders-03", "DOWN", ["db"]),
            register("billing-04", service="billing", team="find", region="eu"),  # new facts
            register("search-05", service="orders", team="shop"),  # another group
            InstanceUpdate(type="deregister", id="billing-07"),
        ],
        now=T0 + 100,
    )
    await store.ingest([status(f"orders-{n:02d}", "UP") for n in (0, 3, 6)], now=T0 + 350)
    await store.sweep(T0 + 400, disconnect_after=300, forget_after=3600)  # the rest: silent
    await store.ingest([register("search-08", team="find")], now=T0 + 500)
    await store.sweep(T0 + 3700, disconnect_after=300, forget_after=3500)  # forgets most
    await store.ingest([status("orders-00", "UP")], now=T0 + 3701)  # back from silence

    everyone = (await store.instances(InstanceQuery(limit=100))).items
    assert {i["status"] for i in everyone} == {"UP", "DISCONNECTED"}
    pairs = {(k, v) for i in everyone for k, v in i["facts"].items()} | {("team", "gone")}
    for key, value in sorted(pairs):
        matching = [i for i in everyone if i["facts"].get(key) == value]
        for statuses in ([], ["UP"], ["DISCONNECTED", "DOWN"]):
            query = InstanceQuery(facts={key: value}, statuses=statuses, limit=100)
            page = await store.instances(query)
            expected = [i for i in matching if not statuses or i["status"] in statuses]
            assert page.total == len(expected), (key, value, statuses)
            assert sorted(i["id"] for i in page.items) == sorted(i["id"] for i in expected)
        groups = await store.groups(GroupQuery(facts={key: value}, limit=100))
        assert sorted(g["id"] for g in groups.items) == sorted({i["group"] for i in matching})
    for facts in ({"team": "find", "environment": "prod"}, {"environment": "prod", "team": "find"}):
        # The rarest fact finds the rows, whichever order the filter names them in.
        page = await store.instances(InstanceQuery(facts=facts, limit=100))
        wanted = [i["id"] for i in everyone if facts.items() <= i["facts"].items()]
        assert page.total == len(wanted) > 0
        assert sorted(i["id"] for i in page.items) == sorted(wanted)
    leftovers = await store.on_reader(
        lambda conn: store.dialect.run(conn, "SELECT count(*) FROM fleet_group_facts WHERE n <= 0")
    )
    assert leftovers == [(0,)]


@pytest.mark.parametrize(
    ("sort", "descending"), [("status", True), ("status", False), ("id", True)]
)
async def test_a_fact_most_instances_share_pages_as_a_rare_one_does(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, sort: str, descending: bool
) -> None:
    # 20 of 30 instances have team=shop: small pages read the sort's index row by row
    # (the dense shape), larger ones find the matches first; the pages are the same.
    await fleet(store)
    shapes: list[bool] = []
    instance_fact = store.dialect.instance_fact

    def spy(prefix: str, key: str, value: str, *, dense: bool = False) -> Any:
        shapes.append(dense)
        return instance_fact(prefix, key, value, dense=dense)

    monkeypatch.setattr(store.dialect, "instance_fact", spy)
    query = InstanceQuery(facts={"team": "shop"}, sort=sort, descending=descending, limit=100)
    everything = await store.instances(query)
    assert everything.total == 20
    for offset in range(0, 21, 3):
        page = await store.instances(dataclasses.replace(query, limit=3, offset=offset))
        assert page.total == 20
        assert page.items == everything.items[offset : offset + 3]
    assert shapes[0] is False  # 20 * 20 < 100 * 30: all matches, then sorted
    assert shapes[1] is True  # 20 * 20 > 3 * 30: the index, row by row
    assert False in shapes[2:]  # deep pages find the matches first again
