"""The action journal: every action, who started it, its targets and each one's result.

Stored in the console's database (tables ``fleet_actions`` and
``fleet_action_results``, schema step ``_schema_actions`` in
``actuator.fleet.dialects``), so it survives a restart and every console on
one database shows the same journal. An action whose console died is left
``running`` with a heartbeat that goes stale; ``interrupt_stale`` (run by the
sweep) marks it failed and its unfinished instances ``interrupted``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from actuator.fleet.model import Page
from actuator.fleet.store import SqlStore
from actuator.fleet.store import _iso as iso

_ACTION_COLUMNS = (
    "id, created, finished, state, action, principal, identity, client, request, stages, "
    "targets, reason"
)
_UNFINISHED = ("pending", "running")


class Journal:
    """Reads and writes the journal through a ``SqlStore``'s writer and reader threads."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.dialect = store.dialect

    async def create(
        self,
        action_id: str,
        *,
        now: float,
        action: str,
        principal: str | None,
        identity: str,
        client: str | None,
        request: dict[str, Any],
        stages: list[dict[str, Any]],
        targets: Sequence[tuple[str, int]],
    ) -> None:
        """A new running action; ``targets`` are ``(instance id, stage number)`` in order."""
        d = self.dialect

        def work(conn: Any) -> None:
            with d.transaction(conn):
                d.run(
                    conn,
                    f"INSERT INTO fleet_actions ({_ACTION_COLUMNS}, heartbeat) "
                    "VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (
                        action_id,
                        now,
                        action,
                        principal,
                        identity,
                        client,
                        json.dumps(request, sort_keys=True),
                        json.dumps(stages),
                        len(targets),
                        now,
                    ),
                )
                d.run_many(
                    conn,
                    "INSERT INTO fleet_action_results (action_id, instance_id, position, stage, "
                    "result, detail, at) VALUES (?, ?, ?, ?, 'pending', NULL, NULL)",
                    [(action_id, iid, n, stage) for n, (iid, stage) in enumerate(targets)],
                )

        await self.store.on_writer(work)

    async def results(
        self, action_id: str, rows: Sequence[tuple[str, str, str | None, float]]
    ) -> None:
        """Record ``(instance id, result, detail, time)`` rows of one action."""
        d = self.dialect

        def work(conn: Any) -> None:
            with d.transaction(conn):
                d.run_many(
                    conn,
                    "UPDATE fleet_action_results SET result = ?, detail = ?, at = ? "
                    "WHERE action_id = ? AND instance_id = ?",
                    [(result, detail, at, action_id, iid) for iid, result, detail, at in rows],
                )

        await self.store.on_writer(work)

    async def beat(self, action_id: str, now: float) -> None:
        await self.store.on_writer(
            lambda conn: self.dialect.run(
                conn,
                "UPDATE fleet_actions SET heartbeat = ? WHERE id = ? AND state = 'running'",
                (now, action_id),
            )
        )

    async def finish(
        self, action_id: str, state: str, now: float, reason: str | None, *, interrupted: bool
    ) -> None:
        """End a running action. Its instances not reached yet become ``skipped`` (or
        ``interrupted`` with ``interrupted``); those acted on but not confirmed, ``interrupted``."""
        d = self.dialect

        def work(conn: Any) -> None:
            with d.transaction(conn):
                d.run(
                    conn,
                    "UPDATE fleet_actions SET state = ?, finished = ?, reason = ? "
                    "WHERE id = ? AND state = 'running'",
                    (state, now, reason, action_id),
                )
                d.run(
                    conn,
                    "UPDATE fleet_action_results SET result = 'interrupted', at = ?, "
                    "detail = 'the action ended before its state was confirmed' "
                    "WHERE action_id = ? AND result = 'running'",
                    (now, action_id),
                )
                d.run(
                    conn,
                    "UPDATE fleet_action_results SET result = ?, at = ? "
                    "WHERE action_id = ? AND result = 'pending'",
                    ("interrupted" if interrupted else "skipped", now, action_id),
                )

        await self.store.on_writer(work)

    async def interrupt_stale(self, now: float, stale_after: float) -> list[str]:
        """Mark running actions whose heartbeat is older than ``stale_after`` failed."""
        d = self.dialect
        reason = "interrupted: the console running it stopped"

        def work(conn: Any) -> list[str]:
            with d.transaction(conn):
                rows = d.run(
                    conn,
                    "UPDATE fleet_actions SET state = 'failed', finished = ?, reason = ? "
                    "WHERE state = 'running' AND heartbeat < ? RETURNING id",
                    (now, reason, now - stale_after),
                )
                d.run_many(
                    conn,
                    "UPDATE fleet_action_results SET result = 'interrupted', at = ? "
                    "WHERE action_id = ? AND result IN ('pending', 'running')",
                    [(now, row[0]) for row in rows],
                )
            return [str(row[0]) for row in rows]

        result: list[str] = await self.store.on_writer(work)
        return result

    # -- reading --------------------------------------------------------------

    async def page(self, offset: int, limit: int, states: Sequence[str] = ()) -> Page:
        """Actions, newest first, with their progress counts."""
        d = self.dialect

        def work(conn: Any) -> Page:
            where, params = "1 = 1", []
            if states:
                where = f"state IN ({', '.join('?' * len(states))})"
                params = list(states)
            total = d.run(conn, f"SELECT count(*) FROM fleet_actions WHERE {where}", params)[0][0]
            rows = d.run(
                conn,
                f"SELECT {_ACTION_COLUMNS} FROM fleet_actions WHERE {where} "
                "ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            items = [_action_json(row) for row in rows]
            counts = self._counts(conn, [item["id"] for item in items])
            for item in items:
                item["progress"] = _progress(counts.get(item["id"], {}), item["targets"])
            return Page(items, int(total), offset, limit)

        result: Page = await self.store.on_reader(work)
        return result

    async def action(self, action_id: str, offset: int, limit: int) -> dict[str, Any] | None:
        """One action: progress, stages, failed instances, and a page of per-instance results."""
        d = self.dialect

        def work(conn: Any) -> dict[str, Any] | None:
            rows = d.run(
                conn, f"SELECT {_ACTION_COLUMNS} FROM fleet_actions WHERE id = ?", (action_id,)
            )
            if not rows:
                return None
            found = _action_json(rows[0])
            per_stage: dict[int, dict[str, int]] = {}
            for stage, result, count in d.run(
                conn,
                "SELECT stage, result, count(*) FROM fleet_action_results WHERE action_id = ? "
                "GROUP BY stage, result",
                (action_id,),
            ):
                per_stage.setdefault(int(stage), {})[result] = int(count)
            totals: dict[str, int] = {}
            for number, stage in enumerate(found["stages"]):
                counts = per_stage.get(number, {})
                for result, count in counts.items():
                    totals[result] = totals.get(result, 0) + count
                stage["progress"] = _progress(counts, stage["size"])
                stage["state"] = _stage_state(counts)
            found["progress"] = _progress(totals, found["targets"])
            found["failed"] = [
                row[0]
                for row in d.run(
                    conn,
                    "SELECT instance_id FROM fleet_action_results WHERE action_id = ? "
                    "AND result = 'failed' ORDER BY position LIMIT 1000",
                    (action_id,),
                )
            ]
            results = d.run(
                conn,
                "SELECT instance_id, stage, result, detail, at FROM fleet_action_results "
                "WHERE action_id = ? ORDER BY position LIMIT ? OFFSET ?",
                (action_id, limit, offset),
            )
            found["results"] = Page(
                [
                    {
                        "instance": iid,
                        "stage": int(stage),
                        "result": result,
                        "detail": detail,
                        "time": iso(at),
                    }
                    for iid, stage, result, detail, at in results
                ],
                found["targets"],
                offset,
                limit,
            ).json()
            return found

        result: dict[str, Any] | None = await self.store.on_reader(work)
        return result

    def _counts(self, conn: Any, ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        if not ids:
            return counts
        marks = ", ".join("?" * len(ids))
        for aid, result, count in self.dialect.run(
            conn,
            f"SELECT action_id, result, count(*) FROM fleet_action_results "
            f"WHERE action_id IN ({marks}) GROUP BY action_id, result",
            ids,
        ):
            counts.setdefault(aid, {})[result] = int(count)
        return counts


def _progress(counts: dict[str, int], total: int) -> dict[str, int]:
    progress = {"total": int(total)}
    for result in ("pending", "running", "succeeded", "failed", "skipped", "interrupted"):
        progress[result] = counts.get(result, 0)
    return progress


def _stage_state(counts: dict[str, int]) -> str:
    if counts.get("running"):
        return "running"
    if counts.get("pending") and len(counts) == 1:
        return "pending"
    if counts.get("failed"):
        return "failed"
    if counts.get("skipped") or counts.get("interrupted"):
        return "skipped"
    return "succeeded"


def _action_json(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        aid,
        created,
        finished,
        state,
        action,
        principal,
        identity,
        client,
        request,
        stages,
        targets,
        reason,
    ) = row
    return {
        "id": aid,
        "action": action,
        "state": state,
        "created": iso(created),
        "finished": iso(finished),
        "by": principal,
        "identity": identity,
        "client": client,
        "request": json.loads(request),
        "targets": int(targets),
        "stages": json.loads(stages),
        "reason": reason,
    }
