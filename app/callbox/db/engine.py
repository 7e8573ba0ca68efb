"""The one Piccolo engine Callbox's tables are bound to, configured at start from settings."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={})
"""Bound to every Callbox table (``db=DB``), so a host app's own Piccolo config is untouched."""


def configure_engine(database_url: str) -> None:
    """Point the engine at a database; call before opening the pool."""
    DB.config = {"dsn": database_url}
