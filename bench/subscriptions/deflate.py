"""What per-message deflate costs a subscription frame: websockets' compressor with uvicorn's
server settings (12-bit window, memLevel 5, context takeover) against plain framing, over
5,000 varied ``next`` frames shaped like bench/subscriptions/run.py's; median of 7 runs.

    uv run python -m bench.subscriptions.deflate
"""

from __future__ import annotations

import json
import secrets
import statistics
import time

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

FRAMES = 5000
RUNS = 7


def frame() -> bytes:
    event = {
        "cursor": secrets.token_urlsafe(48),
        "kind": "RECEIVED",
        "message": {
            "id": secrets.token_urlsafe(16),
            "body": f"bench 1000 42 {secrets.token_hex(4)}",
        },
    }
    message = {"id": "1", "type": "next", "payload": {"data": {"messageEvents": event}}}
    return json.dumps(message, separators=(",", ":")).encode()


def deflated(frames: list[bytes]) -> tuple[float, float]:
    """Microseconds per frame, and bytes per frame, through one connection's compressor."""
    extension = PerMessageDeflate(False, False, 12, 12, {"memLevel": 5})
    started, size = time.perf_counter(), 0
    for data in frames:
        size += len(extension.encode(Frame(Opcode.TEXT, data)).data)
    return (time.perf_counter() - started) / len(frames) * 1e6, size / len(frames)


def framed(frames: list[bytes]) -> float:
    started = time.perf_counter()
    for data in frames:
        Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
    return (time.perf_counter() - started) / len(frames) * 1e6


def main() -> None:
    frames = [frame() for _ in range(FRAMES)]
    deflate_us, plain_us, size = [], [], 0.0
    for _ in range(RUNS):  # interleaved
        microseconds, size = deflated(frames)
        deflate_us.append(microseconds)
        plain_us.append(framed(frames))
    deflate, plain = statistics.median(deflate_us), statistics.median(plain_us)
    print(
        f"frame {statistics.mean(map(len, frames)):.0f} B, deflated {size:.0f} B;"
        f" deflate {deflate:.1f} us per frame, framing {plain:.1f} us; ratio {deflate / plain:.1f}"
    )


if __name__ == "__main__":
    main()
