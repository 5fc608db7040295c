"""``actuator fleet ...``: run the console, and read it from a terminal.

``actuator fleet serve [--database URL] [--config fleet.toml] [--host H] [--port P]``
``actuator fleet groups [--status DOWN] [--where env=prod] [--sort status] [--json]``
``actuator fleet instances [--where team=orders --where env=prod] [--status DOWN] [--json]``
``actuator fleet counts [--json]``
``actuator fleet pause|resume|flip|shutdown --where team=orders [--canary 1] [--batch 10%]``
``actuator fleet loglevel LOGGER LEVEL|--reset --where ...``
``actuator fleet journal [ID]``

The reading commands ask the console at ``--url`` (default ``$ACTUATOR_FLEET_URL``,
else ``http://127.0.0.1:8090``) with the bearer token in ``$ACTUATOR_FLEET_TOKEN``
or the first line of ``--token-file`` (never on the command line, where
other users could see it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8090"

_COLOURS = {
    "UP": "green",
    "DOWN": "bold red",
    "DISCONNECTED": "red",
    "UNKNOWN": "yellow",
    "OUT_OF_SERVICE": "cyan",
    "INIT": "blue",
    "succeeded": "green",
    "failed": "bold red",
    "stopped": "red",
    "running": "cyan",
    "skipped": "yellow",
    "interrupted": "red",
}


def add_commands(commands: Any) -> None:
    """Add ``fleet`` and its subcommands to the ``actuator`` parser's subparsers."""
    fleet = commands.add_parser(
        "fleet",
        help="the fleet console: every instance of every service in one place",
        description="Run the fleet console, or read it: service groups, instances, counts.",
    )
    sub = fleet.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the console (SQLite by default)",
        description="Serve the fleet console's API and ingest with uvicorn. "
        "With no options it stores in ./fleet.db and listens on "
        "127.0.0.1:8090.",
    )
    serve.add_argument("--config", "-c", metavar="FILE", help="the console's TOML file")
    serve.add_argument(
        "--database", metavar="URL", help="sqlite:///path or postgresql://... (overrides the file)"
    )
    serve.add_argument("--host", help="listen address (overrides [server] host)")
    serve.add_argument("--port", type=int, help="listen port (0 picks a free one)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument("--check", action="store_true", help="validate the configuration and exit")
    serve.set_defaults(run=_serve)

    def reader(name: str, help_text: str) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=help_text
            + ". "
            + ("The token comes from $ACTUATOR_FLEET_TOKEN or --token-file."),
        )
        command.add_argument(
            "--url",
            default=os.environ.get("ACTUATOR_FLEET_URL", DEFAULT_URL),
            help="the console (default: $ACTUATOR_FLEET_URL or %(default)s)",
        )
        command.add_argument(
            "--token-file", metavar="FILE", help="a file whose first line is the bearer token"
        )
        command.add_argument("--json", action="store_true", help="print the JSON answer")
        command.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
        return command

    def filters(command: argparse.ArgumentParser, sorts: tuple[str, ...], default: str) -> None:
        command.add_argument(
            "--status",
            action="append",
            default=[],
            help="only this status (repeat or comma-separate)",
        )
        command.add_argument("--service", action="append", default=[], help="only this service")
        command.add_argument(
            "--where",
            action="append",
            default=[],
            metavar="FACT=VALUE",
            help="only where the fact has this value (repeat: all must match)",
        )
        command.add_argument("--sort", choices=sorts, default=default)
        command.add_argument("--desc", action="store_true", help="sort descending")
        command.add_argument("--limit", type=int, default=50, help="rows (the console caps it)")
        command.add_argument("--offset", type=int, default=0)

    from actuator.fleet.model import GROUP_SORTS, INSTANCE_SORTS

    groups = reader("groups", "List service groups, worst first")
    filters(groups, GROUP_SORTS, "status")
    groups.set_defaults(run=_groups)

    instances = reader("instances", "List instances")
    filters(instances, INSTANCE_SORTS, "id")
    instances.add_argument("--version", action="append", default=[], help="only this version")
    instances.add_argument("--group", help="only this group id")
    instances.add_argument("--search", "-q", help="text in the instance id or service name")
    instances.set_defaults(run=_instances)

    counts = reader("counts", "Count instances and groups per status")
    counts.set_defaults(run=_counts)

    for name, help_text in (
        ("pause", "Pause instances (readiness OUT_OF_SERVICE, requests refused), in stages"),
        ("resume", "Resume paused instances, in stages, each back UP before the next"),
        ("flip", "Flip instances' pause state, in stages"),
        ("loglevel", "Set a logger's level on instances (or --reset it), in stages"),
        ("shutdown", "Restart instances in stages: each stops, and must come back UP"),
    ):
        command = reader(name, help_text + " (needs the full role)")
        _action_options(command, name)
        command.set_defaults(run=_act, action=name)

    journal = reader("journal", "The action journal, newest first; with an ID, one action")
    journal.add_argument("id", nargs="?", help="an action id: its stages and results")
    journal.add_argument("--state", action="append", default=[], help="only this state")
    journal.add_argument("--limit", type=int, default=50, help="rows (the console caps it)")
    journal.add_argument("--offset", type=int, default=0)
    journal.set_defaults(run=_journal)


def _serve(args: argparse.Namespace) -> int:
    from actuator.fleet.config import load_config
    from actuator.fleet.server import serve

    config = load_config(args.config)
    if args.database:
        config = config.model_copy(update={"database": args.database})
        from actuator.fleet.dialects import dialect_for

        dialect_for(args.database)  # a bad URL fails here, naming --database
    if args.check:
        from actuator.fleet.app import FleetConsole

        FleetConsole(config)
        print(f"{args.config or 'defaults'}: OK")
        return 0
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    serve(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            lines = Path(args.token_file).read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"--token-file: {exc}") from None
        return lines[0].strip() if lines else None
    return os.environ.get("ACTUATOR_FLEET_TOKEN") or None


def _get(args: argparse.Namespace, path: str, params: list[tuple[str, Any]]) -> Any:
    import httpx

    token = _token(args)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = args.url.rstrip("/") + "/fleet/api" + path
    try:
        answer = httpx.get(url, params=params, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot reach the console at {args.url}: {exc}") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200:
        message = body.get("message") if isinstance(body, dict) else answer.text[:200]
        raise ValueError(f"the console answered {answer.status_code}: {message}")
    return body


def _filter_params(args: argparse.Namespace) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("status", s.upper()) for s in args.status]
    params += [("service", s) for s in args.service]
    params += [("where", w) for w in args.where]
    params += [
        ("sort", args.sort),
        ("order", "desc" if args.desc else "asc"),
        ("limit", str(args.limit)),
        ("offset", str(args.offset)),
    ]
    return params


def _groups(args: argparse.Namespace) -> int:
    page = _get(args, "/groups", _filter_params(args))
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [
        [
            g["name"],
            g["status"],
            str(g["instances"]),
            f"{g['percentUp']:g}%",
            str(g["disconnected"]),
            _versions(g["versions"]),
            g["id"],
        ]
        for g in page["items"]
    ]
    _table(
        f"service groups {_range(page)}",
        ["group", "status", "instances", "up", "disconnected", "versions", "id"],
        rows,
    )
    return 0


def _instances(args: argparse.Namespace) -> int:
    params = _filter_params(args) + [("version", v) for v in args.version]
    if args.group:
        params.append(("group", args.group))
    if args.search:
        params.append(("q", args.search))
    page = _get(args, "/instances", params)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [
        [
            i["id"],
            i["service"],
            i["status"],
            ", ".join(i["componentsDown"]),
            i["version"] or "",
            i["lastSeen"] or "",
            i["url"] or "",
        ]
        for i in page["items"]
    ]
    _table(
        f"instances {_range(page)}",
        ["instance", "service", "status", "not up", "version", "last heard", "url"],
        rows,
    )
    return 0


def _counts(args: argparse.Namespace) -> int:
    counts = _get(args, "/counts", [])
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    rows = []
    for name in ("instances", "groups"):
        entry = counts[name]
        for status, n in sorted(entry["statuses"].items()):
            rows.append([name, status, str(n)])
        rows.append([name, "total", str(entry["total"])])
    _table("the fleet", ["of", "status", "count"], rows)
    return 0


def _range(page: dict[str, Any]) -> str:
    shown = len(page["items"])
    first = page["offset"] + 1 if shown else 0
    return f"{first}-{page['offset'] + shown} of {page['total']}"


def _versions(versions: dict[str, int]) -> str:
    ordered = sorted(versions.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{v} x{n}" for v, n in ordered[:3]) + (" …" if len(ordered) > 3 else "")


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # What instances and the console say is text, never markup ("see [reach]").
        cells = [escape(cell) for cell in row]
        for name in ("status", "state", "result"):
            if name not in columns:
                continue
            i = columns.index(name)
            # Colour helps, but the status is always written out: readable without it.
            cells[i] = f"[{_COLOURS.get(row[i], 'yellow')}]{cells[i]}[/]"
        table.add_row(*cells)
    Console(file=sys.stdout, soft_wrap=False).print(table)


# -- actions ------------------------------------------------------------------


def _action_options(command: argparse.ArgumentParser, name: str) -> None:
    if name == "loglevel":
        command.add_argument("logger", help="a logger or logger group name, or ROOT")
        command.add_argument("level", nargs="?", help="TRACE, DEBUG, INFO, WARN, ERROR, ...")
        command.add_argument("--reset", action="store_true", help="clear the level set before")
    if name == "shutdown":
        command.add_argument(
            "--no-restart",
            action="store_true",
            help="the platform does not restart them: wait until each has stopped",
        )
    command.add_argument("--where", action="append", default=[], metavar="FACT=VALUE")
    command.add_argument("--service", action="append", default=[])
    command.add_argument("--status", action="append", default=[])
    command.add_argument("--group", help="a service group id")
    command.add_argument("--instance", action="append", default=[], help="an instance id")
    command.add_argument("--canary", type=int, default=1, help="instances first (default 1)")
    command.add_argument("--batch", default="25%", help="a count or a share (10%%) per batch")
    command.add_argument("--batch-deadline", type=float, default=60.0, metavar="SECONDS")
    command.add_argument(
        "--max-failures", default="0", help="stop when more fail: a count or a share (10%%)"
    )
    command.add_argument("--reason", help="said to the instances, and kept in the journal")
    command.add_argument("--dry-run", action="store_true", help="show the targets; act on none")


def _count_or_share(value: str, option: str) -> int | str:
    text = value.strip()
    if text.isdigit():
        return int(text)
    if text.endswith("%") and text[:-1].isdigit():
        return text
    raise ValueError(f"{option} takes a count or a percentage like 10%, got {value!r}")


def _action_body(args: argparse.Namespace) -> dict[str, Any]:
    facts = {}
    for item in args.where:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where takes FACT=VALUE, got {item!r}")
        facts[key] = value
    body: dict[str, Any] = {
        "action": args.action,
        "service": args.service,
        "status": [s.upper() for s in args.status],
        "facts": facts,
        "instances": args.instance,
        "canary": args.canary,
        "batch": _count_or_share(args.batch, "--batch"),
        "batch_deadline": args.batch_deadline,
        "max_failures": _count_or_share(args.max_failures, "--max-failures"),
        "dry_run": args.dry_run,
    }
    if args.group:
        body["group"] = args.group
    if args.reason:
        body["reason"] = args.reason
    if args.action == "loglevel":
        if args.reset == (args.level is not None):
            raise ValueError("loglevel takes a LEVEL or --reset (one of them)")
        body.update(logger=args.logger, level=None if args.reset else args.level)
    if args.action == "shutdown":
        body["restart"] = not args.no_restart
    return body


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    token = _token(args)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = args.url.rstrip("/") + "/fleet/api" + path
    try:
        answer = httpx.request(method, url, headers=headers, timeout=args.timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot reach the console at {args.url}: {exc}") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code >= 300:
        message = body.get("message") if isinstance(body, dict) else answer.text[:200]
        raise ValueError(f"the console answered {answer.status_code}: {message}")
    return body


def _act(args: argparse.Namespace) -> int:
    started = _request(args, "POST", "/actions", json=_action_body(args))
    if args.json and (args.dry_run or started.get("dryRun")):
        print(json.dumps(started, indent=2))
        return 0
    if started.get("dryRun"):
        rows = [
            [stage["name"], i["id"], i["service"], i["status"], i["version"] or ""]
            for stage in started["stages"]
            for i in (_by_id(started["instances"])[iid] for iid in stage["instances"])
        ]
        _table(
            f"dry run: {args.action} on {started['targets']} instances, "
            f"stopping when more than {started['failureLimit']} fail",
            ["stage", "instance", "service", "status", "version"],
            rows,
        )
        return 0
    found = _follow(args, started["id"], started["targets"])
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        _show_action(args, found)
    return 0 if found["state"] == "succeeded" else 1


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def _follow(args: argparse.Namespace, action_id: str, total: int) -> dict[str, Any]:
    """Poll the action until it ends, with a progress bar on a terminal."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, disable=args.json, transient=False) as progress:
        bar = progress.add_task(f"{args.action} {action_id}", total=total)
        while True:
            found: dict[str, Any] = _request(args, "GET", f"/actions/{action_id}?limit=1")
            counts = found["progress"]
            done = total - counts["pending"] - counts["running"]
            stage = next((s["name"] for s in found["stages"] if s["state"] == "running"), "")
            failed = f", {counts['failed']} failed" if counts["failed"] else ""
            progress.update(
                bar, completed=done, description=f"{args.action} {stage}{failed}".strip()
            )
            if found["state"] != "running":
                return found
            time.sleep(0.5)


def _show_action(args: argparse.Namespace, found: dict[str, Any]) -> None:
    rows = []
    offset = 0
    while True:
        page = _request(args, "GET", f"/actions/{found['id']}?offset={offset}&limit=500")
        items = page["results"]["items"]
        names = [s["name"] for s in page["stages"]]
        rows += [
            [r["instance"], names[r["stage"]], r["result"], r["detail"] or "", r["time"] or ""]
            for r in items
        ]
        offset += len(items)
        if not items or offset >= page["results"]["total"]:
            break
    counts = found["progress"]
    title = (
        f"{found['action']} {found['id']}: {found['state']} "
        f"({counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['skipped']} skipped of {counts['total']})"
    )
    _table(title, ["instance", "stage", "result", "detail", "time"], rows)
    if found["reason"]:
        print(f"{found['state']}: {found['reason']}")


def _journal(args: argparse.Namespace) -> int:
    if args.id:
        found = _request(args, "GET", f"/actions/{args.id}")
        if args.json:
            print(json.dumps(found, indent=2))
        else:
            _show_action(args, found)
        return 0
    params = [("state", s) for s in args.state]
    params += [("limit", str(args.limit)), ("offset", str(args.offset))]
    page = _request(args, "GET", "/actions", params=params)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [
        [
            a["id"],
            a["created"],
            a["action"],
            a["state"],
            f"{a['progress']['succeeded']}/{a['targets']}",
            str(a["progress"]["failed"]),
            a["by"] or "",
            a["reason"] or "",
        ]
        for a in page["items"]
    ]
    _table(
        f"actions {_range(page)}",
        ["id", "started", "action", "state", "done", "failed", "by", "reason"],
        rows,
    )
    return 0
