"""Regenerate the settings table of docs/configuration.md from the settings model.

Run by ``make settings-table`` after adding or changing a setting; tests/test_docs.py
fails while the page and the code disagree. The table sits between two markers:
everything between them is replaced, the rest of the page is left alone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from actuator.settings import settings_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
TABLE = re.compile(r"(<!-- settings-table:start -->\n)(.*?)(\n<!-- settings-table:end -->)", re.S)


def main() -> int:
    text = PAGE.read_text(encoding="utf-8")
    if not TABLE.search(text):
        sys.exit(f"{PAGE}: the settings-table markers are missing")
    PAGE.write_text(
        TABLE.sub(lambda m: m.group(1) + settings_markdown() + m.group(3), text),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
