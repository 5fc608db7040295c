"""The notification document: built once, stored with its delivery, sent as it is.

The generic webhook POSTs it as JSON; Slack gets its ``summary`` as text;
email its ``summary`` as subject and a few lines of detail. The schema is
versioned (``schema``); fields are only ever added within a version. See
docs/fleet-notifications.md for every field.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from actuator.fleet.notify.tracker import Decision

SCHEMA = "actuator.fleet.notification/v1"


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instance_subject(row: dict[str, Any]) -> dict[str, Any]:
    """The subject of an instance notification, from the store's instance JSON."""
    return {
        "kind": "instance",
        "id": row["id"],
        "service": row["service"],
        "group": row["group"],
        "version": row["version"],
        "url": row["url"],
        "facts": row["facts"],
        "componentsDown": row["componentsDown"],
    }


def group_subject(row: dict[str, Any]) -> dict[str, Any]:
    """The subject of a group notification, from the store's group JSON."""
    total = row["instances"]
    return {
        "kind": "group",
        "id": row["id"],
        "name": row["name"],
        "service": row["service"],
        "keys": row["keys"],
        "instances": total,
        "up": row["up"],
        "down": row["down"],
        "disconnected": row["disconnected"],
        "percentUp": row["percentUp"],
        "percentDown": round(100.0 * row["down"] / total, 2) if total else 0.0,
        "counts": row["counts"],
    }


def build(
    rule: str, decision: Decision, subject: dict[str, Any], *, created: float, flap: str = ""
) -> dict[str, Any]:
    """The document for one decision of ``rule`` about ``subject``; ``id`` is new and
    unique, and stays the same across retries (receivers may deduplicate on it)."""
    return {
        "schema": SCHEMA,
        "id": uuid.uuid4().hex,
        "kind": decision.kind,
        "rule": rule,
        "created": iso(created),
        "status": decision.status,
        "previousStatus": decision.previous,
        "since": iso(decision.since),
        "summary": summary(decision, subject, flap),
        "subject": subject,
    }


def _name(subject: dict[str, Any]) -> str:
    if subject["kind"] == "group":
        return f"group {subject['name']}"
    return f"{subject['id']} ({subject['service']})"


def summary(decision: Decision, subject: dict[str, Any], flap: str = "") -> str:
    name = _name(subject)
    status = decision.status
    if decision.kind == "flapping":
        return f"{name} is flapping{flap}, now {status}"
    if decision.kind == "stable":
        return f"{name} stopped flapping: {status} since {iso(decision.since)}"
    if decision.kind == "reminder":
        text = f"{name} is still {status}, since {iso(decision.since)}"
    elif decision.previous is None:
        text = f"{name} is {status}"
    else:
        text = f"{name} is {status} (was {decision.previous})"
    if subject["kind"] == "group":
        text += f": {subject['down']} of {subject['instances']} instances DOWN"
    elif subject.get("componentsDown"):
        text += f": {', '.join(subject['componentsDown'][:10])}"
    return text


def text_body(document: dict[str, Any]) -> str:
    """A plain-text rendering, for email."""
    subject = document["subject"]
    lines = [
        document["summary"],
        "",
        f"Rule:     {document['rule']}",
        f"Status:   {document['status']} (before: {document['previousStatus'] or '-'})",
        f"Since:    {document['since']}",
        f"{subject['kind'].capitalize() + ':':<10}{subject['id']}",
    ]
    if subject["kind"] == "instance" and subject.get("url"):
        lines.append(f"Actuator: {subject['url']}")
    lines += ["", f"Notification {document['id']} ({document['schema']})"]
    return "\n".join(lines) + "\n"


def new_id() -> str:
    return uuid.uuid4().hex
