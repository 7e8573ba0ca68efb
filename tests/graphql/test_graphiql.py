"""Item 9 of issue 20: GraphiQL on ``GET /graphql`` is served from the package (no CDN), is
titled Callbox, opens with example operations, and runs subscriptions over
graphql-transport-ws.

The browser test drives Debian's Chromium (as tests/inbox/test_browser.py does) with every
request to a host other than the Callbox under test aborted: the page must work offline.
"""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from callbox.graphql.ide import CONTENT_SECURITY_POLICY
from tests.graphql.support import receivers
from tests.inbox.support import (
    API_KEY,
    NOTIFY_TOKEN,
    WAIT_MS,
    PageWatch,
    chromium,
    keyed_config,
    post_notify_receipt,
    require_chromium,
)
from tests.support import callbox_client, callbox_process, settings_for

IDE = Path(__file__).resolve().parents[2] / "app" / "callbox" / "graphql" / "ide"
VENDOR = IDE / "vendor"
HTML = {"Accept": "text/html"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._in_script = True
        for name in ("src", "href"):
            value = found.get(name)
            if tag in ("script", "link") and value and not value.startswith("data:"):
                self.links.append(value)

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_the_vendored_files_are_those_the_refresh_script_recorded() -> None:
    """scripts/vendor-graphiql.sh wrote SHA256SUMS; a file edited by hand fails here."""
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    shipped = {path.name for path in VENDOR.iterdir()} - {"SHA256SUMS", "README.md"}
    assert set(sums) == shipped
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    notes = (VENDOR / "README.md").read_text()
    for package in ("graphiql", "react", "react-dom"):
        assert "MIT License" in (VENDOR / f"{package}.LICENSE").read_text()
        assert f"`{package}@" in notes


async def test_the_page_and_its_files_are_served_from_the_package(database_url: str) -> None:
    settings = settings_for(database_url, receivers(), development=True)
    async with callbox_client(settings) as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "<title>Callbox GraphiQL</title>" in page.text
        assert '<base href="/graphql/">' in page.text
        parser = _Links()
        parser.feed(page.text)
        assert parser.inline_scripts == 0  # the CSP allows none
        assert parser.links, page.text
        for link in parser.links:
            assert not urlsplit(link).netloc, link  # nothing from another host
            served = await client.get(f"/graphql/{link}")
            assert served.status_code == 200, link
            assert served.content == (IDE / link.removeprefix("ide/")).read_bytes()
            again = await client.get(
                f"/graphql/{link}", headers={"If-None-Match": served.headers["etag"]}
            )
            assert again.status_code == 304
        assert (await client.get("/graphql/ide/vendor/README.md")).status_code == 404
        assert (await client.get("/graphql/ide/../controller.py")).status_code == 404


async def test_graphiql_works_offline_with_queries_and_subscriptions(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    require_chromium()
    async with (
        callbox_process(database_url, tmp_path) as server,
        chromium() as browser,
        httpx.AsyncClient(timeout=30) as http,
    ):
        ours = urlsplit(server.base).netloc
        blocked: list[str] = []

        async def only_callbox(route: Any) -> None:
            if urlsplit(route.request.url).netloc == ours:
                await route.continue_()
            else:
                blocked.append(route.request.url)
                await route.abort("internetdisconnected")

        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        await context.route("**/*", only_callbox)
        page = await context.new_page()
        watch = PageWatch(page)
        posted: list[str] = []
        page.on(
            "request",
            lambda request: (
                posted.append(request.post_data or "") if request.method == "POST" else None
            ),
        )
        await page.goto(f"{server.base}/graphql")
        assert await page.title() == "Callbox GraphiQL"
        run = page.locator(".graphiql-execute-button")
        await run.wait_for(timeout=WAIT_MS)
        response = page.locator(".graphiql-response")

        # The first tab: recent messages and conversations, run over HTTP.
        await post_notify_receipt(http, server.base, status="delivered", to="07700900123")
        await run.click()
        await response.get_by_text('"totalCount": 1').first.wait_for(timeout=WAIT_MS)
        assert "+447700900123" in await response.inner_text()

        # The second tab: the live subscription, over graphql-transport-ws.
        await page.locator(".graphiql-tab", has_text="LiveMessageEvents").click()
        await run.click()
        for _ in range(100):
            if watch.subscribes():
                break
            await page.wait_for_timeout(100)
        (subscribe,) = watch.subscribes()
        assert "subscription LiveMessageEvents" in subscribe["payload"]["query"]
        await page.wait_for_timeout(500)  # (the server has started the subscription)
        await post_notify_receipt(http, server.base, status="delivered", to="07700900777")
        await response.get_by_text("+447700900777").first.wait_for(timeout=WAIT_MS)
        text = await response.inner_text()
        assert '"messageEvents"' in text and '"STATUS_CHANGED"' in text
        (event,) = watch.event_payloads()
        assert event["message"]["to"] == "+447700900777"

        # Nothing went over HTTP but queries, nothing to another host, nothing failed.
        assert not [body for body in posted if "subscription LiveMessageEvents" in body]
        assert blocked == []
        assert watch.unexpected_errors() == []


async def test_with_api_keys_the_headers_editor_key_is_sent_over_http_and_websocket(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    require_chromium()
    config = keyed_config(database_url) + "\n[graphql]\ngraphiql = true\n"
    async with (
        callbox_process(database_url, tmp_path, config) as server,
        chromium() as browser,
        httpx.AsyncClient(timeout=30) as http,
    ):
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        watch = PageWatch(page)
        await page.goto(f"{server.base}/graphql")
        run = page.locator(".graphiql-execute-button")
        await run.wait_for(timeout=WAIT_MS)
        response = page.locator(".graphiql-response")
        await run.click()  # without a key: refused, and said so
        await response.get_by_text("an API key is required").first.wait_for(timeout=WAIT_MS)

        async def give_the_key() -> None:  # (each tab has its own headers)
            await page.get_by_role("button", name="Headers").click()
            await page.locator(".graphiql-editor-tool .CodeMirror").last.click()
            await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {API_KEY}"}))

        await give_the_key()
        await run.click()
        await response.get_by_text('"totalCount": 0').first.wait_for(timeout=WAIT_MS)

        await page.locator(".graphiql-tab", has_text="LiveMessageEvents").click()
        await give_the_key()
        await run.click()
        for _ in range(100):
            if watch.subscribes():
                break
            await page.wait_for_timeout(100)
        init = [frame for frame in watch.sent if frame["type"] == "connection_init"]
        assert init[-1]["payload"] == {"Authorization": f"Bearer {API_KEY}"}
        await page.wait_for_timeout(500)
        await post_notify_receipt(http, server.base, to="07700900777", bearer=NOTIFY_TOKEN)
        await response.get_by_text("+447700900777").first.wait_for(timeout=WAIT_MS)
        assert watch.unexpected_errors() == []
