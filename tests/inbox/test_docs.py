"""The README's quick start ends at the inbox page, with the browser test's screenshot."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_quick_start_ends_with_the_inbox_and_its_screenshot() -> None:
    readme = (REPO / "README.md").read_text()
    quick_start = re.search(r"## Quick start\n(.*?)\n## ", readme, flags=re.DOTALL)
    assert quick_start is not None
    section = quick_start.group(1).strip()
    last = section[section.rindex("http://127.0.0.1:8000/inbox") :]
    assert "uv run callbox send-sample notify" in last
    assert "watch it arrive" in last
    assert section.endswith("(docs/inbox.png)")
    assert "callbox serve" in section and "127.0.0.1:8000" in section
    png = (REPO / "docs" / "inbox.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "docs/inbox.md" in section and (REPO / "docs" / "inbox.md").exists()
