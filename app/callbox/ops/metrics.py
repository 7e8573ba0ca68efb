"""Prometheus metrics: the objects Callbox records into, and their exposition.

Every app has its own registry (so a host's default registry is untouched and several apps
in one process do not collide). With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory before start: the values then live in files shared by the workers and
a scrape of any worker reports the sum (``callbox serve`` empties the directory at start).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from callbox.db.connection import Pool
from callbox.store.applier import ApplyReport

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Callback latency is milliseconds when healthy and seconds when the database struggles.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def empty_multiprocess_dir() -> None:
    """Remove the previous run's value files (call once, before the workers start)."""
    directory = multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


class CallboxMetrics:
    """The metric objects; subsystems that do not exist yet have theirs ready to record into.

    Example::

        metrics = CallboxMetrics()
        metrics.callbacks.labels(receiver="notify", outcome="accepted", reason="").inc()
        text = metrics.exposition()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Each receiver's labelled metrics, kept once made: ``labels()`` looks them up under
        # a lock on every call.
        self._callback_counts: dict[tuple[str, str, str], Counter] = {}
        self._callback_seconds: dict[str, Histogram] = {}
        self.callbacks = Counter(
            "callbox_callbacks_received",
            "Callbacks received, by receiver, outcome and (for rejections) reason class.",
            ["receiver", "outcome", "reason"],
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "callbox_ingest_duration_seconds",
            "Time from a callback's arrival to its answer (stored and committed when 200).",
            ["receiver"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.apply_lag_seconds = Histogram(
            "callbox_apply_lag_seconds",
            "Time from a stored callback's arrival to the commit of its events' application"
            " (when it is queryable).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.apply_backlog = Gauge(
            "callbox_apply_backlog",
            "Stored callbacks waiting to be applied, all processes (counted up to"
            " [ingest] backlog_alert + 1).",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.apply_failed = Counter(
            "callbox_apply_failed",
            "Stored callbacks whose events could not be applied (state FAILED, see"
            " `callbox reprocess`).",
            registry=self.registry,
        )
        self.subscriptions_open = Gauge(
            "callbox_subscriptions_open",
            "Live-update subscriptions currently open.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.events_fanned_out = Counter(
            "callbox_events_fanned_out",
            "Events delivered to live-update subscribers.",
            registry=self.registry,
        )
        self.subscribers_too_slow = Counter(
            "callbox_subscribers_too_slow",
            "Subscriptions ended because the client fell more than queue_size events behind.",
            registry=self.registry,
        )
        self.listener_reconnects = Counter(
            "callbox_listener_reconnects",
            "Times the database NOTIFY listener reconnected.",
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "callbox_db_pool_size",
            "Connections the database pool holds open.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_idle = Gauge(
            "callbox_db_pool_idle",
            "Open pool connections not in use.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_max_size = Gauge(
            "callbox_db_pool_max_size",
            "The most connections the pool may open.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def record_callback(
        self, receiver: str, outcome: str, reason: str, duration_seconds: float
    ) -> None:
        key = (receiver, outcome, reason)
        count = self._callback_counts.get(key)
        if count is None:
            count = self._callback_counts[key] = self.callbacks.labels(
                receiver=receiver, outcome=outcome, reason=reason
            )
        count.inc()
        seconds = self._callback_seconds.get(receiver)
        if seconds is None:
            seconds = self._callback_seconds[receiver] = self.ingest_seconds.labels(
                receiver=receiver
            )
        seconds.observe(duration_seconds)

    def record_applied(self, report: ApplyReport) -> None:
        for lag in report.lags:
            self.apply_lag_seconds.observe(lag)
        if report.failed:
            self.apply_failed.inc(report.failed)
        self.apply_backlog.set(report.backlog)

    def refresh_pool(self, pool: Pool | None) -> None:
        """Read the asyncpg pool's size and free connections into the gauges."""
        if pool is None or pool.is_closing():
            size = idle = maximum = 0
        else:
            size, idle, maximum = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
        self.pool_size.set(size)
        self.pool_idle.set(idle)
        self.pool_max_size.set(maximum)

    def exposition(self) -> bytes:
        """The Prometheus text format: this process, or every worker in multiprocess mode."""
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    def process_exited(self) -> None:
        """Drop this worker's live gauges (multiprocess mode; nothing otherwise)."""
        if multiprocess_dir() is not None:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
