"""Progress of a long command (``reprocess``, ``purge``): a bar in a terminal, lines in a log.

A bar redraws itself in place (``\\r``), which only a terminal understands: written to a file or
a log collector, the redraws would run together into one long line. There each step is a line
of its own instead, the first and last of each part and one every few seconds between.

Example::

    progress = Progress(sys.stderr)
    for done in range(1, total + 1):
        progress.update("reprocessed", done, total)
    progress.close()
"""

from __future__ import annotations

import math
import time
from typing import TextIO

BAR_WIDTH = 30
LINE_INTERVAL_SECONDS = 5.0
"""Between the first and the last, at most one line this often (outside a terminal)."""


class Progress:
    """Shows ``label done/total`` for one part after another (a new label, a new part)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._terminal = stream.isatty()
        self._label: str | None = None
        self._last_line = -math.inf
        self._open_bar = False

    def update(self, label: str, done: int, total: int) -> None:
        new_part = label != self._label
        self._label = label
        if self._terminal:
            if new_part:
                self._end_bar()
            self._stream.write(f"\r{label} {_bar(done, total)}")
            self._open_bar = True
            if done >= total:
                self._end_bar()
        else:
            now = time.monotonic()
            if new_part or done >= total or now - self._last_line >= LINE_INTERVAL_SECONDS:
                self._stream.write(f"{label} {done}/{total}\n")
                self._last_line = now
        self._stream.flush()

    def close(self) -> None:
        """End a bar left open (a part that stopped short of its total)."""
        self._end_bar()
        self._stream.flush()

    def _end_bar(self) -> None:
        if self._open_bar:
            self._stream.write("\n")
            self._open_bar = False


def _bar(done: int, total: int) -> str:
    share = done / total if total else 1.0
    filled = min(BAR_WIDTH, round(share * BAR_WIDTH))
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {share:4.0%}"
