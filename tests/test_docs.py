"""The docs are the user's manual: these keep their reference parts true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from actuator import Actuator
from actuator.settings import settings_markdown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_configuration_table_lists_every_setting_as_the_code_defines_it() -> None:
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->",
        _read(DOCS / "configuration.md"),
        re.S,
    )
    assert match is not None, "docs/configuration.md lacks the settings table markers"
    assert match.group(1).strip() == settings_markdown(), (
        "docs/configuration.md's settings table is stale: run `make settings-table`"
    )


def test_every_endpoint_is_in_the_endpoints_table() -> None:
    actuator = Actuator(
        settings={"shutdown": {"enabled": True}, "health": {"event_loop": {"enabled": False}}}
    )
    table = _read(DOCS / "endpoints.md").split("## Discovery", 1)[0]
    for name in actuator.endpoints:
        assert f"`{name}`" in table, f"endpoint {name!r} missing from docs/endpoints.md's table"


def test_the_readme_opens_with_the_two_commands() -> None:
    head = _read(ROOT / "README.md")[:600]
    assert "make demo" in head
    assert "make test" in head


def test_every_docs_page_is_in_the_site_navigation() -> None:
    nav = _read(ROOT / "mkdocs.yml").split("\nnav:", 1)[1]
    listed = set(re.findall(r"([\w./-]+\.md)\s*$", nav, re.M))
    pages = {str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md")}
    assert pages - listed == set(), "pages missing from mkdocs.yml's nav"
    assert listed - pages == set(), "mkdocs.yml's nav names pages that do not exist"


def test_the_front_pages_link_only_to_files_that_exist() -> None:
    for name in ("README.md", "CONTRIBUTING.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", _read(ROOT / name)):
            assert (ROOT / target).exists(), f"{name} links to missing {target}"
