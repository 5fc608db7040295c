"""The compatibility tables are built from the compat tests' outcomes, and a whole run keeps
the committed page honest (tests/support/compat.py, scripts/compat_table.py)."""

from __future__ import annotations

import json

import pytest

from scripts.compat_table import END, START, Claim, page_tables, render, with_tables

INI = """
[pytest]
testpaths = checks
addopts = -p no:cacheprovider -p no:asyncio
markers = compat(kind, name, feature, result='yes'): a compatibility claim
compat_page = page.md
"""
SUITE = """
import pytest

@pytest.mark.compat("server", "uvicorn", "drain")
def test_drain():
    pass

@pytest.mark.compat("server", "hypercorn", "drain", result="no: stops at once")
def test_no_drain():
    pass

@pytest.mark.compat("framework", "quart", "route templates")
def test_templates():
    assert {outcome}

def test_unrelated():
    pass
"""
TABLES = """\
| Server feature | hypercorn | uvicorn |
| --- | --- | --- |
| drain | no: stops at once | yes |

| Framework feature | quart |
| --- | --- |
| route templates | {cell} |"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest('pytest_plugins = ["tests.support.compat"]')
    pytester.mkdir("checks")
    return pytester


def write(pytester: pytest.Pytester, *, passes: bool, page_cell: str) -> None:
    (pytester.path / "checks" / "test_suite.py").write_text(
        SUITE.format(outcome="True" if passes else "False")
    )
    page = f"# Page\n\n{START}\n{TABLES.format(cell=page_cell)}\n{END}\n\nMore text.\n"
    (pytester.path / "page.md").write_text(page)


def test_a_whole_run_passes_while_the_page_shows_what_the_tests_show(
    suite: pytest.Pytester,
) -> None:
    write(suite, passes=True, page_cell="yes")
    result = suite.runpytest()
    result.assert_outcomes(passed=4)
    assert "compatibility tables" not in result.stdout.str()


def test_a_failing_compat_test_fails_the_run_and_its_cell_reads_fails(
    suite: pytest.Pytester,
) -> None:
    write(suite, passes=False, page_cell="yes")
    result = suite.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*page.md no longer says what the compat tests show; run `make compat-table`*",
            "-| route templates | yes |",
            "+| route templates | FAILS |",
        ]
    )


def test_a_stale_page_fails_a_run_whose_tests_all_pass(suite: pytest.Pytester) -> None:
    write(suite, passes=True, page_cell="no")
    result = suite.runpytest()
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["-| route templates | no |", "+| route templates | yes |"])


@pytest.mark.parametrize(
    "args",
    [["-k", "drain"], ["checks/test_suite.py::test_drain"], ["-m", "not compat"], ["-x"]],
    ids=["keyword", "node id", "marker", "stopped early"],
)
def test_a_partial_run_checks_nothing(suite: pytest.Pytester, args: list[str]) -> None:
    write(suite, passes=args != ["-x"], page_cell="stale")
    if args == ["-x"]:  # the failing test stops the run before the rest
        (suite.path / "checks" / "test_suite.py").write_text(
            "import pytest\n\ndef test_fails():\n    assert False\n" + SUITE.format(outcome="True")
        )
    result = suite.runpytest(*args)
    assert "compatibility tables" not in result.stdout.str()
    assert result.ret == (pytest.ExitCode.TESTS_FAILED if args == ["-x"] else pytest.ExitCode.OK)


def test_compat_results_are_written_as_json_for_the_generator(suite: pytest.Pytester) -> None:
    write(suite, passes=False, page_cell="stale")
    result = suite.runpytest("-m", "compat", f"--compat-results={suite.path / 'out.json'}")
    result.assert_outcomes(passed=2, failed=1)
    claims = [Claim.from_json(data) for data in json.loads((suite.path / "out.json").read_text())]
    assert [(c.name, c.result, c.outcome) for c in claims] == [
        ("uvicorn", "yes", "passed"),
        ("hypercorn", "no: stops at once", "passed"),
        ("quart", "yes", "failed"),
    ]
    assert render(claims) == TABLES.format(cell="FAILS")


def test_results_are_not_written_from_a_partial_run(suite: pytest.Pytester) -> None:
    write(suite, passes=True, page_cell="yes")
    result = suite.runpytest("-k", "drain", f"--compat-results={suite.path / 'out.json'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*No compat results written: compat tests were deselected*"])
    assert not (suite.path / "out.json").exists()


@pytest.mark.parametrize(
    "marker",
    ['"server", "uvicorn"', '"browser", "chrome", "drain"', '"server", "uvicorn", ""'],
    ids=["too few arguments", "unknown kind", "empty feature"],
)
def test_a_malformed_compat_marker_is_a_usage_error(suite: pytest.Pytester, marker: str) -> None:
    (suite.path / "checks" / "test_bad.py").write_text(
        f"import pytest\n\n@pytest.mark.compat({marker})\ndef test_it():\n    pass\n"
    )
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_bad.py::test_it: @pytest.mark.compat(kind, name, feature*"])


def test_cells_join_the_results_of_passing_tests_and_mark_the_untested() -> None:
    claims = [
        Claim("framework", "django", "uri", "yes", "passed"),
        Claim("framework", "django", "uri", "yes", "passed"),
        Claim("framework", "django", "pause", "yes | mostly", "passed"),
        Claim("framework", "django", "pause", "partial", "passed"),
        Claim("framework", "quart", "uri", "yes", "skipped"),
    ]
    assert render(claims) == (
        "| Framework feature | django | quart |\n"
        "| --- | --- | --- |\n"
        "| uri | yes | SKIPPED |\n"
        "| pause | yes \\| mostly / partial | — |"
    )


def test_the_page_keeps_its_text_around_the_markers() -> None:
    page = f"intro\n{START}\nold\n{END}\noutro\n"
    assert with_tables(page, "new") == f"intro\n{START}\nnew\n{END}\noutro\n"
    assert page_tables(with_tables(page, "new")) == "new"
    with pytest.raises(ValueError, match="markers"):
        with_tables("no markers here", "new")
