"""The inbox page in a real browser (Debian's Chromium, headless, through Playwright) against
``callbox serve`` processes: live updates without a reload, recovery after a restart, and
the API-key path.

``CALLBOX_UPDATE_SCREENSHOTS=1`` makes the first test write docs/inbox.png (the README's
screenshot); otherwise the screenshot goes to the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.inbox.support import (
    API_KEY,
    NOTIFY_TOKEN,
    SCREENSHOT,
    WAIT_MS,
    WRITE_ONLY_KEY,
    PageWatch,
    chromium,
    keyed_config,
    post_esendex_inbound,
    post_notify_receipt,
    require_chromium,
)
from tests.support import callbox_process, database_proxy, through_proxy

pytestmark = pytest.mark.usefixtures("db")


async def _expect_visible(locator) -> None:  # type: ignore[no-untyped-def]
    await locator.first.wait_for(state="visible", timeout=WAIT_MS)


async def test_development_instance_shows_events_live_and_recovers_after_a_restart(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    require_chromium()
    async with (
        callbox_process(database_url, tmp_path) as server,
        chromium() as browser,
        httpx.AsyncClient(timeout=30) as http,
    ):
        page = await browser.new_page(viewport={"width": 1400, "height": 860})
        watch = PageWatch(page)
        await page.goto(f"{server.base}/inbox")
        # A development instance on loopback needs no key: the page goes straight to live.
        await page.wait_for_selector("#connection[data-state=live]", timeout=WAIT_MS)
        assert await page.locator("#key-panel").is_hidden()
        await _expect_visible(page.locator("#no-messages"))
        await page.evaluate("window.loadedOnce = true")  # gone if the page reloads

        # A Notify delivery receipt and an Esendex inbound message, through the receivers.
        await post_notify_receipt(http, server.base, status="delivered")
        await post_esendex_inbound(http, server.base, text="Yes, see you at 3pm")
        await post_notify_receipt(http, server.base, status="permanent-failure", to="07700900777")

        receipt = page.locator("#messages .message", has_text="To +447700900123")
        await _expect_visible(receipt)
        badge = receipt.locator(".badge")
        assert "Delivered" in await badge.inner_text()
        assert await badge.locator(".icon").inner_text() == "✓"  # not colour alone
        inbound = page.locator("#messages .message", has_text="Yes, see you at 3pm")
        await _expect_visible(inbound)
        assert "Received" in await inbound.locator(".badge").inner_text()
        # The inbound message started a conversation; the failure is in the glance panel.
        conversation = page.locator("#conversations .conversation", has_text="+447700900555")
        await _expect_visible(conversation)
        failure = page.locator("#failures li", has_text="+447700900777")
        await _expect_visible(failure)
        assert "Failed: permanent failure" in await failure.inner_text()
        assert await page.locator("#failure-count").inner_text() == "(1)"
        assert await page.evaluate("window.loadedOnce") is True, "the page reloaded"

        await page.wait_for_timeout(2600)  # let the "new" highlight fade for the picture
        screenshot = SCREENSHOT if os.environ.get("CALLBOX_UPDATE_SCREENSHOTS") else None
        path = tmp_path / "inbox.png"
        await page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        if screenshot is not None:
            shutil.copyfile(path, screenshot)

        # Stop the server: the page says so; start it again: the page resumes where it was.
        cursors_before = watch.event_cursors()
        assert len(cursors_before) == 3
        subscribes_before = len(watch.subscribes())
        server.stop()
        await page.wait_for_selector("#connection[data-state=reconnecting]", timeout=WAIT_MS)
        server.start()
        await page.wait_for_selector("#connection[data-state=live]", timeout=30_000)
        resumed = watch.subscribes()[subscribes_before:]
        assert resumed, "the page did not subscribe again"
        # From the cursor of the SHUTTING_DOWN error the stopping server sent (the last
        # event sent, or past it over events this subscription does not match), else from
        # the last event's own cursor.
        error_cursors = watch.error_cursors()
        expected = error_cursors[-1] if error_cursors else cursors_before[-1]
        assert resumed[0]["payload"]["variables"]["after"] == expected

        await post_esendex_inbound(http, server.base, text="Running 5 minutes late")
        await _expect_visible(page.locator("#messages .message", has_text="Running 5 minutes late"))
        # Opening the conversation shows both of its messages, oldest first.
        await conversation.locator("button").click()
        thread = page.locator("#messages.thread .message")
        await _expect_visible(thread.filter(has_text="Running 5 minutes late"))
        assert await thread.count() == 2
        assert "see you at 3pm" in await thread.nth(0).inner_text()
        conversation_id = await page.locator(".conversation[aria-current=true]").get_attribute(
            "data-conversation-id"
        )
        assert page.url == f"{server.base}/inbox#conversation={conversation_id}"
        assert await page.evaluate("window.loadedOnce") is True, "the page reloaded"
        assert watch.unexpected_errors() == []


async def test_instance_with_api_keys_asks_for_the_key_and_keeps_it_in_session_storage(
    database_url: str, tmp_path: Path
) -> None:
    require_chromium()
    async with (
        callbox_process(database_url, tmp_path, keyed_config(database_url)) as server,
        chromium() as browser,
        httpx.AsyncClient(timeout=30) as http,
    ):
        context = await browser.new_context()
        page = await context.new_page()
        watch = PageWatch(page)
        await page.goto(f"{server.base}/inbox")
        await _expect_visible(page.locator("#key-panel"))
        assert await page.locator("#inbox").is_hidden()

        # A wrong key is refused, and said so.
        await page.fill("#key-input", "not-the-key")
        await page.click("#key-form button[type=submit]")
        await _expect_visible(page.locator("#key-error"))
        assert "refused" in await page.locator("#key-error").inner_text()
        # So is a key that may not read.
        await page.fill("#key-input", WRITE_ONLY_KEY)
        await page.click("#key-form button[type=submit]")
        await page.locator("#key-error", has_text="may not read").wait_for(timeout=WAIT_MS)
        assert await page.locator("#inbox").is_hidden()

        await page.fill("#key-input", API_KEY)
        await page.click("#key-form button[type=submit]")
        await page.wait_for_selector("#connection[data-state=live]", timeout=WAIT_MS)
        assert await page.evaluate("sessionStorage.getItem('callbox.inbox.apiKey')") == API_KEY
        assert await page.evaluate("localStorage.length") == 0
        init = [frame for frame in watch.sent if frame["type"] == "connection_init"]
        assert init[-1]["payload"] == {"authorization": f"Bearer {API_KEY}"}

        await post_notify_receipt(http, server.base, status="delivered", bearer=NOTIFY_TOKEN)
        await post_esendex_inbound(
            http, server.base, text="Keyed hello", path="/hooks/esendex/inbox-esendex-url-token"
        )
        await _expect_visible(page.locator("#messages .message", has_text="Keyed hello"))
        # With our_address set, the receipt threads: a conversation with its delivered badge.
        threaded = page.locator("#conversations .conversation", has_text="+447700900123")
        await _expect_visible(threaded)
        assert "Delivered" in await threaded.inner_text()

        # A reload keeps the key (same tab); another tab's session does not have it.
        await page.reload()
        await page.wait_for_selector("#connection[data-state=live]", timeout=WAIT_MS)
        await _expect_visible(page.locator("#messages .message", has_text="Keyed hello"))
        other = await (await browser.new_context()).new_page()
        await other.goto(f"{server.base}/inbox")
        await _expect_visible(other.locator("#key-panel"))

        # Forgetting the key clears it and asks again.
        await page.click("#forget-key")
        await _expect_visible(page.locator("#key-panel"))
        assert await page.evaluate("sessionStorage.length") == 0
        assert watch.unexpected_errors() == []


async def _sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/inbox")
    await page.fill("#key-input", API_KEY)
    await page.click("#key-form button[type=submit]")
    await page.wait_for_selector("#connection[data-state=live]", timeout=WAIT_MS)


async def test_cards_show_the_time_they_are_ordered_by_and_everything_fits_a_phone(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    """Item 14 of issue 20: the activity list is ordered by the time each card shows; a
    receiver named after its provider is named once; nothing in the conversation list is cut
    off, at 1400 px or at 420 px; reconnect delays have jitter."""
    require_chromium()
    async with (
        callbox_process(database_url, tmp_path, keyed_config(database_url)) as server,
        chromium() as browser,
        httpx.AsyncClient(timeout=30) as http,
    ):
        # Posted in one order, sent in the other: the latest change is the oldest message.
        # With our_address set, the receipts thread: conversations with their badges.
        await post_notify_receipt(
            http,
            server.base,
            status="permanent-failure",
            bearer=NOTIFY_TOKEN,
            sent_at="2026-11-22T09:00:00.000000Z",
        )
        await post_notify_receipt(
            http,
            server.base,
            status="delivered",
            to="07700900777",
            bearer=NOTIFY_TOKEN,
            sent_at="2026-11-10T09:00:00.000000Z",
        )
        await post_esendex_inbound(
            http, server.base, text="Hello", path="/hooks/esendex/inbox-esendex-url-token"
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 860})
        watch = PageWatch(page)
        await _sign_in(page, server.base)
        cards = page.locator("#messages .message")
        await _expect_visible(cards.nth(2))
        await _expect_visible(page.locator("#conversations .conversation").nth(2))

        shown = await page.locator("#messages .message time.occurred").evaluate_all(
            "times => times.map((time) => time.getAttribute('datetime'))"
        )
        assert len(shown) == 3
        instants = [datetime.fromisoformat(value) for value in shown]
        assert instants == sorted(instants, reverse=True), shown
        assert (
            "newest first by when it was sent or received"
            in await page.locator("#content-subtitle").inner_text()
        )

        tags = await page.locator("#messages .message .tag").all_inner_texts()
        assert "notify" in tags and "esendex" in tags, tags
        assert not [tag for tag in tags if "·" in tag], tags

        sizes = """() => {
            const box = (node) => ({scroll: node.scrollWidth, client: node.clientWidth,
                scrollHeight: node.scrollHeight, clientHeight: node.clientHeight});
            return {
                page: box(document.documentElement),
                sidebar: box(document.querySelector(".sidebar")),
                metas: [...document.querySelectorAll(".conversation .meta")].map(box),
                conversations: [...document.querySelectorAll(".conversation")].map(
                    (node) => node.getBoundingClientRect().right),
            };
        }"""
        wide = await page.evaluate(sizes)
        assert wide["sidebar"]["scroll"] <= wide["sidebar"]["client"], wide  # "1 messag"
        assert all(meta["scroll"] <= meta["client"] for meta in wide["metas"]), wide

        await page.set_viewport_size({"width": 420, "height": 860})
        await page.wait_for_timeout(200)
        narrow = await page.evaluate(sizes)
        assert narrow["page"]["scroll"] <= 420, narrow
        assert narrow["sidebar"]["scrollHeight"] <= narrow["sidebar"]["clientHeight"], narrow
        assert all(meta["scroll"] <= meta["client"] for meta in narrow["metas"]), narrow
        assert all(right <= 420 for right in narrow["conversations"]), narrow
        await page.screenshot(path=str(tmp_path / "inbox-420.png"), full_page=True)

        # Reconnect delays: each backoff step (0.5, 1, 2, 4, 8 s) less a random part of up
        # to half of it, so that pages disconnected together do not return together.
        delays = await page.evaluate(
            """async () => {
                const { retryDelay } = await import(new URL("live.js", document.baseURI));
                return Array.from({ length: 50 }, (_, attempt) => retryDelay(attempt % 5));
            }"""
        )
        steps = [500, 1000, 2000, 4000, 8000]
        for attempt, delay in enumerate(delays):
            assert steps[attempt % 5] / 2 <= delay <= steps[attempt % 5], (attempt, delay)
        assert len({delay for attempt, delay in enumerate(delays) if attempt % 5 == 4}) > 3
        assert watch.unexpected_errors() == []


async def test_the_page_says_when_it_is_loading_and_when_the_database_is_down(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    """Item 8 of issue 20: no "Nothing here yet" before the lists are read, or while the
    database cannot be reached: a loading note, then a banner saying the database is
    unavailable and that the page is retrying; once it is back, the page reads again."""
    require_chromium()
    with database_proxy(database_url) as proxy:
        async with (
            callbox_process(through_proxy(database_url, proxy), tmp_path) as server,
            chromium() as browser,
            httpx.AsyncClient(timeout=30) as http,
        ):
            await post_notify_receipt(http, server.base, status="delivered")
            page = await browser.new_page(viewport={"width": 1400, "height": 860})
            watch = PageWatch(page)
            empty_notes = ("#no-messages", "#no-conversations", "#no-failures", "#no-opt-outs")

            # The first read is held up (the test holds a lock on the messages): the page
            # is live, and its lists say they are loading, not that there is nothing.
            async with db.transaction():
                await db.execute("LOCK TABLE callbox_message IN ACCESS EXCLUSIVE MODE")
                await page.goto(f"{server.base}/inbox")
                await page.wait_for_selector("#connection[data-state=live]", timeout=WAIT_MS)
                await page.wait_for_timeout(500)
                await page.screenshot(path=str(tmp_path / "loading.png"))
                assert await page.locator("#messages-pending").inner_text() == "Loading…"
                assert await page.locator("#conversations-pending").is_visible()
                for note in empty_notes:
                    assert await page.locator(note).is_hidden(), note
                assert await page.locator("#conversation-count").inner_text() == ""
            receipt = page.locator("#messages .message", has_text="To +447700900123")
            await _expect_visible(receipt)
            assert await page.locator("#messages-pending").is_hidden()

            # The database goes away; the page is opened again.
            proxy.cut()
            await page.reload()
            banner = page.locator("#problem")
            await _expect_visible(banner)
            text = await banner.inner_text()
            assert "The database is unavailable" in text and "Retrying in" in text, text
            assert await banner.get_attribute("data-code") == "DATABASE_UNAVAILABLE"
            for note in empty_notes:
                assert await page.locator(note).is_hidden(), note
            pending = await page.locator("#messages-pending").inner_text()
            assert pending == "Not loaded: waiting for the database."
            await page.screenshot(path=str(tmp_path / "database-down.png"))

            # Back: the retry reads the state, and the banner goes.
            proxy.restore()
            await _expect_visible(receipt)
            await banner.wait_for(state="hidden", timeout=WAIT_MS)
            assert watch.unexpected_errors() == []
