"""Regenerate the compatibility tables of docs/servers-and-frameworks.md from the tests' results.

Every test marked ``@pytest.mark.compat(kind, name, feature, result="yes")`` is a
claim: "``feature`` works on server or framework ``name`` as ``result`` says".
``make compat-table`` runs those tests (``pytest -m compat``) and writes their
outcomes between the page's two markers; tests/support/compat.py, the pytest
plugin that records them, fails a run of the whole suite while the committed
tables differ from the ones its results build. So the page can only say
"yes" where a test passed: a failing test makes its cell ``FAILS``.

Cells: the ``result`` of the cell's tests when all of them passed (their distinct
values joined by `` / ``), ``FAILS`` when one failed, ``SKIPPED`` when one was
skipped, ``—`` when no test covers that feature there. Columns (names) are sorted;
rows (features) come in the order the tests are collected.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "servers-and-frameworks.md"
START, END = "<!-- compat-table:start -->", "<!-- compat-table:end -->"
TABLES = re.compile(re.escape(START) + r"\n(.*?)\n?" + re.escape(END), re.S)
KINDS = {"server": "Server feature", "framework": "Framework feature"}
FAILS, SKIPPED, UNTESTED = "FAILS", "SKIPPED", "—"


@dataclass(frozen=True)
class Claim:
    """One compat marker of one test, and how that test ended."""

    kind: str
    name: str
    feature: str
    result: str = "yes"
    outcome: str = "unrun"  # then "passed", "failed" or "skipped"

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Claim:
        return cls(**{field: str(data[field]) for field in cls.__dataclass_fields__})


def render(claims: Iterable[Claim]) -> str:
    """The markdown tables, one per kind (servers first), built from ``claims``."""
    by_kind: dict[str, list[Claim]] = {}
    for claim in claims:
        if claim.kind not in KINDS:
            raise ValueError(f"compat kind must be one of {sorted(KINDS)}, not {claim.kind!r}")
        by_kind.setdefault(claim.kind, []).append(claim)
    return "\n\n".join(_table(KINDS[kind], by_kind[kind]) for kind in KINDS if kind in by_kind)


def _table(title: str, claims: Sequence[Claim]) -> str:
    names = sorted({claim.name for claim in claims}, key=str.lower)
    features = list(dict.fromkeys(claim.feature for claim in claims))
    cells: dict[tuple[str, str], list[Claim]] = {}
    for claim in claims:
        cells.setdefault((claim.feature, claim.name), []).append(claim)
    lines = [_row([title, *names]), _row(["---"] * (len(names) + 1))]
    lines += [
        _row([feature, *(_cell(cells.get((feature, name), [])) for name in names)])
        for feature in features
    ]
    return "\n".join(lines)


def _cell(claims: Sequence[Claim]) -> str:
    if not claims:
        return UNTESTED
    outcomes = {claim.outcome for claim in claims}
    if outcomes - {"passed", "skipped"}:
        return FAILS
    if "skipped" in outcomes:
        return SKIPPED
    return " / ".join(dict.fromkeys(claim.result for claim in claims))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def page_tables(text: str) -> str:
    """What the page holds between its markers (``ValueError`` if they are missing)."""
    match = TABLES.search(text)
    if match is None:
        raise ValueError(f"{PAGE.name}: the markers {START} and {END} are missing")
    return match.group(1)


def with_tables(text: str, tables: str) -> str:
    """The page with ``tables`` between its markers."""
    page_tables(text)
    return TABLES.sub(lambda _: f"{START}\n{tables}\n{END}", text, count=1)


def main() -> int:
    """Run the compat tests, then write their tables into the page."""
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "compat.json"
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "compat", "-q", f"--compat-results={results}"],
            cwd=ROOT,
            check=False,
        )
        if not results.exists():
            print(f"pytest exited with {run.returncode} before recording any compat result")
            return run.returncode or 1
        claims = [Claim.from_json(data) for data in json.loads(results.read_text())]
    PAGE.write_text(with_tables(PAGE.read_text(encoding="utf-8"), render(claims)), "utf-8")
    print(f"{PAGE.relative_to(ROOT)}: {len(claims)} results written")
    if not claims:  # pytest's exit status 5: no tests collected
        return 0
    if run.returncode:
        print(f"Some compat tests failed (pytest exit {run.returncode}): their cells say {FAILS}")
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
