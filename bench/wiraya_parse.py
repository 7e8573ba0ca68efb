"""Time Wiraya's parser on 1,000- and 10,000-item JSON batches.

Run: ``uv run python bench/wiraya_parse.py``.

Each item is a full recommended-template event with its own recipient number (so the per-request
address cache only helps with the sender); prints the best of a few runs in milliseconds.
"""

from __future__ import annotations

import json
import time

from callbox.providers.base import InboundRequest, ReceiverContext
from callbox.providers.wiraya import parse

STATUSES = ("DELIVERED", "NOT_DELIVERED", "OPTOUT", "FAILURE", "UNKNOWN", "TEST")


def batch_body(size: int) -> bytes:
    items = [
        {
            "type": "outgoing sms",
            "id": str(1_000_000 + number),
            "cid": "1042",
            "rid": str(50_000 + number),
            "prid": "311",
            "recipient": f"4670{number % 10_000_000:07d}",
            "sender": "46769440100",
            "status": STATUSES[number % len(STATUSES)],
            "recipient_status": "EXISTS",
            "content": "Your appointment is tomorrow at 10:00. Reply YES to confirm.",
            "sms_parts": "1",
            "campaign_name": "Appointments",
            "sent_dateiso": "2024-03-15T10:30:00Z",
            "done_dateiso": "2024-03-15T10:30:04Z",
            "1": "Anna Svensson",
            "2": f"A-{number}",
        }
        for number in range(size)
    ]
    return json.dumps({"batch": items}).encode()


def best_ms(body: bytes, runs: int) -> tuple[float, int]:
    request = InboundRequest(method="POST", body=body, content_type="application/json")
    receiver = ReceiverContext(name="bench", default_region="SE")
    best = float("inf")
    count = 0
    for _ in range(runs):
        started = time.perf_counter()
        count = len(parse(request, receiver))
        best = min(best, time.perf_counter() - started)
    return best * 1000, count


def main() -> None:
    for size, runs in ((1_000, 5), (10_000, 3)):
        body = batch_body(size)
        milliseconds, events = best_ms(body, runs)
        size_kib = len(body) / 1024
        print(f"{size:>6} items ({size_kib:,.0f} KiB): {milliseconds:8.1f} ms, {events} events")


if __name__ == "__main__":
    main()
