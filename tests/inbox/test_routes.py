"""The inbox page's routes over HTTP: where it is served, with what headers, and when."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from callbox.inbox.routes import CONTENT_SECURITY_POLICY
from callbox.settings import Inbox
from tests.graphql.support import receivers
from tests.support import callbox_client, settings_for

STATIC = Path(__file__).resolve().parents[2] / "app" / "callbox" / "inbox" / "static"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag
        if any(name.startswith("on") or name == "style" for name, _ in attrs):
            self.inline.append(f"<{tag}> with an inline handler or style")

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            self.inline.append(f"inline <{self._open}>")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


async def test_development_instance_serves_the_page_with_a_strict_policy(
    database_url: str,
) -> None:
    settings = settings_for(database_url, receivers(), development=True)
    async with callbox_client(settings) as client:
        page = await client.get("/inbox")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert '<base href="/inbox/">' in page.text
        assert "{{base}}" not in page.text

        # Every file the page names is served, with its type; nothing is inline (the CSP
        # would block it).
        parser = _Tags()
        parser.feed(page.text)
        assert parser.inline == []
        named = {
            attrs.get("src") or attrs.get("href")
            for tag, attrs in parser.tags
            if tag in ("script", "link", "img")
        }
        assert {"main.js", "inbox.css", "icon.svg"} <= named
        imports = set()
        for module in STATIC.glob("*.js"):
            imports |= set(re.findall(r'from "\./([\w.]+)"', module.read_text()))
        assert imports == {"api.js", "live.js", "views.js"}
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        for name in sorted((named | imports) - {None}):
            assert name is not None
            asset = await client.get(f"/inbox/{name}")
            assert asset.status_code == 200, name
            assert asset.headers["content-type"].startswith(types[Path(name).suffix])
            assert asset.content == (STATIC / name).read_bytes()
            # Revalidated with its ETag: unchanged files are not sent again.
            again = await client.get(
                f"/inbox/{name}", headers={"If-None-Match": asset.headers["etag"]}
            )
            assert again.status_code == 304
        assert (await client.get("/inbox/nothing.js")).status_code == 404
        assert (await client.get("/inbox/..%2Fapp.py")).status_code == 404


@pytest.mark.parametrize(
    ("development", "inbox", "served"),
    [
        (False, Inbox(), False),  # production default: off
        (False, Inbox(enabled=True), True),
        (True, Inbox(enabled=False), False),
    ],
)
async def test_the_setting_turns_the_page_on_and_off(
    database_url: str, development: bool, inbox: Inbox, served: bool
) -> None:
    settings = settings_for(database_url, receivers(), development=development, inbox=inbox)
    async with callbox_client(settings) as client:
        status = (await client.get("/inbox")).status_code
        assert status == (200 if served else 404)
        assert (await client.get("/inbox/main.js")).status_code == (200 if served else 404)
