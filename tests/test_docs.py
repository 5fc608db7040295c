"""The README is the user's manual: these keep its reference parts true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from actuator import Actuator
from actuator.settings import settings_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_configuration_table_lists_every_setting_as_the_code_defines_it() -> None:
    match = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->",
                      README, re.S)
    assert match is not None, "README lacks the settings table markers"
    assert match.group(1).strip() == settings_markdown(), (
        "README's configuration table is stale: paste `actuator settings --reference`")


def test_every_endpoint_is_in_the_endpoints_table() -> None:
    actuator = Actuator(settings={"shutdown": {"enabled": True},
                                  "health": {"event_loop": {"enabled": False}}})
    table = README.split("## Endpoints", 1)[1].split("### Discovery", 1)[0]
    for name in actuator.endpoints:
        assert f"`{name}`" in table, f"endpoint {name!r} missing from README's endpoint table"


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README[:600]
    assert "make demo" in head
    assert "make test" in head
