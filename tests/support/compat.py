"""The pytest plugin behind the compatibility tables of docs/servers-and-frameworks.md.

It records how every test marked ``@pytest.mark.compat(kind, name, feature,
result="yes")`` ended. A run of the whole suite that ran every such test then
compares the tables those results build (scripts/compat_table.py renders them)
with the ones committed in the page, and fails, showing the difference, while
they disagree: a table can never claim what the tests no longer show. A partial
run (``-k``, ``-m`` other than ``compat``, a path, ``--lf``, ``-x`` stopping
early, a module that failed to import) checks nothing: it cannot know the
whole table. ``--compat-results=FILE`` writes the results as JSON instead of
checking (``make compat-table`` uses it to rewrite the page).

Loaded by tests/conftest.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from scripts.compat_table import KINDS, PAGE, ROOT, Claim, page_tables, render

MARKER = "compat"
SIGNATURE = "@pytest.mark.compat(kind, name, feature, result='yes')"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "compat_page",
        "the page whose compatibility tables a whole run checks",
        default=str(PAGE.relative_to(ROOT)),
    )
    parser.addoption(
        "--compat-results",
        metavar="FILE",
        default=None,
        help="write the outcomes of the compat-marked tests to FILE as JSON "
        "(instead of checking docs/servers-and-frameworks.md against them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CompatRecorder(config), "compat-recorder")


class CompatRecorder:
    """Collects the compat claims of one run and, at its end, checks or writes them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results_file: str | None = config.getoption("--compat-results")
        self.claims: dict[str, list[Claim]] = {}  # node id -> its markers' claims
        self.outcomes: dict[str, str] = {}
        self.incomplete: list[str] = []  # why this run cannot speak for the whole table
        self.problem: list[str] = []  # what the terminal summary reports
        if not _whole_suite(config):
            self.incomplete.append("only part of the suite was collected")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.incomplete.append(f"{report.nodeid} failed to collect")

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        if any(item.get_closest_marker(MARKER) for item in items):
            self.incomplete.append("compat tests were deselected")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            claims = [_claim(item, marker) for marker in item.iter_markers(MARKER)]
            if claims:
                self.claims[item.nodeid] = claims

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.claims or self.outcomes.get(report.nodeid) == "failed":
            return
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped:
            self.outcomes[report.nodeid] = "skipped"
        elif report.when == "call":
            self.outcomes[report.nodeid] = "passed"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        unrun = [nodeid for nodeid in self.claims if nodeid not in self.outcomes]
        if unrun:
            self.incomplete.append(f"{len(unrun)} compat tests did not run")
        if self.incomplete:
            if self.results_file is not None:
                self.problem = [
                    f"No compat results written: {'; '.join(dict.fromkeys(self.incomplete))}."
                ]
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        claims = [
            dataclasses.replace(claim, outcome=self.outcomes[nodeid])
            for nodeid, node_claims in self.claims.items()
            for claim in node_claims
        ]
        if self.results_file is not None:
            data = [dataclasses.asdict(claim) for claim in claims]
            Path(self.results_file).write_text(json.dumps(data, indent=1), encoding="utf-8")
            return
        page = self.config.rootpath / self.config.getini("compat_page")
        self.problem = _stale(render(claims), page)
        if self.problem and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.problem:
            terminalreporter.section("compatibility tables", red=True)
            for line in self.problem:
                terminalreporter.line(line)


def _claim(item: pytest.Item, marker: pytest.Mark) -> Claim:
    try:
        claim = Claim(*marker.args, **marker.kwargs)
    except TypeError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {SIGNATURE}: {exc}") from None
    fields = (claim.kind, claim.name, claim.feature, claim.result)
    if claim.kind not in KINDS or not all(isinstance(v, str) and v for v in fields):
        raise pytest.UsageError(
            f"{item.nodeid}: {SIGNATURE} takes non-empty strings, kind one of "
            f"{sorted(KINDS)}; got {marker.args}, {marker.kwargs}"
        )
    return claim


def _stale(tables: str, page: Path) -> list[str]:
    """The lines telling how the page's tables differ from ``tables`` (none: they agree)."""
    try:
        committed = page_tables(page.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"Cannot check the compatibility tables: {exc}"]
    if committed.strip() == tables.strip():
        return []
    diff = difflib.unified_diff(
        committed.strip().splitlines(),
        tables.strip().splitlines(),
        f"{page.name} (committed)",
        "this run's results",
        lineterm="",
    )
    return [
        f"{page.name} no longer says what the compat tests show; "
        "run `make compat-table` and commit the page (a FAILS cell is a test to fix):",
        *diff,
    ]


def _whole_suite(config: pytest.Config) -> bool:
    """Whether this run collected every test: no paths given, or exactly the testpaths."""
    if config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        return True
    testpaths = {(config.rootpath / path).resolve() for path in config.getini("testpaths")}
    given = {(config.invocation_params.dir / arg).resolve() for arg in config.args}
    return given == testpaths
