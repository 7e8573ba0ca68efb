"""Receivers: auth guards, the raw-first ingest pipeline and the SQL that applies events."""
