"""One ASGI middleware for every route: a request id, and for callbacks a log line and metrics.

The request id (the caller's ``X-Request-ID`` when well-formed, else a new one) is bound to
the logging context for the request and returned in the ``X-Request-ID`` response header.
For a receiver's route, once the answer is sent, it counts the outcome, observes the latency
and logs one line (at info for problems; for accepted and duplicate callbacks at debug unless
``[logging] callbacks = "all"``): receiver, outcome, status, latency and notification id,
never the path (it may hold a URL token) nor the body.
"""

from __future__ import annotations

import logging
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from callbox.ingest.guards import RECEIVER_OPT
from callbox.ingest.pipeline import outcome_of
from callbox.ops.callback_outcome import classify
from callbox.ops.metrics import CallboxMetrics
from callbox.ops.request_id import REQUEST_ID_HEADER, request_id_from
from callbox.receivers import ReadyReceiver

callback_logger = logging.getLogger("callbox.callbacks")
_ROUTINE_OUTCOMES = frozenset({"accepted", "duplicate"})


class OpsMiddleware:
    """Wraps each route (Litestar builds middleware per route, after routing)."""

    def __init__(
        self, app: ASGIApp, metrics: CallboxMetrics, *, log_every_callback: bool = False
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log_every_callback = log_every_callback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        encoded_id = request_id.encode("ascii")
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER, encoded_id))
                message["headers"] = headers
            await send(message)

        handler = scope.get("route_handler")
        receiver: ReadyReceiver | None = None
        if handler is not None and scope.get("method") != "HEAD":
            receiver = handler.opt.get(RECEIVER_OPT)
        started = time.perf_counter()
        # Bound for the request and restored after (as structlog's bound_contextvars does,
        # without its copy of the whole context on every request).
        bound = bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            try:
                if receiver is not None:
                    self._observe(receiver, scope, status, time.perf_counter() - started)
            finally:
                reset_contextvars(**bound)

    def _observe(self, receiver: ReadyReceiver, scope: Scope, status: int, seconds: float) -> None:
        ingest_outcome = outcome_of(scope.get("state") or {})
        outcome, reason = classify(status, ingest_outcome)
        self.metrics.record_callback(receiver.name, outcome, reason, seconds)
        # Successes are counted by the metrics; one log line each is costly at load.
        routine = outcome in _ROUTINE_OUTCOMES and not self.log_every_callback
        level = logging.DEBUG if routine else logging.INFO
        if not callback_logger.isEnabledFor(level):
            return
        notification_id = ingest_outcome.notification_id if ingest_outcome else None
        latency_ms = round(seconds * 1000, 2)
        fields: dict[str, object] = {
            "callbox_event": "callback",
            "receiver": receiver.name,
            "outcome": outcome,
            "status": status,
            "latency_ms": latency_ms,
            "notification_id": notification_id,
        }
        if reason:
            fields["reason"] = reason
        callback_logger.log(
            level,
            "callback %s %s %s %.2fms notification=%s",
            receiver.name,
            outcome,
            status,
            latency_ms,
            notification_id,
            extra=fields,
        )
