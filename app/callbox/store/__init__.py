"""The store: the only code that writes to Callbox's tables.

- raw requests, accepted (with their events, :mod:`callbox.store.writer`, group commit) and
  rejected (:mod:`callbox.store.raw_requests`);
- event application: the SQL functions in ``store/sql/`` (one file per function, today's
  body), called with the events :mod:`callbox.store.apply` encodes;
- outbound records (:mod:`callbox.store.outbound`), reprocessing
  (:mod:`callbox.store.reprocess`), retention purges (:mod:`callbox.store.purge`,
  :mod:`callbox.store.event_log_purge`);
- the schema: migrations and SQL functions applied under a lock (:mod:`callbox.store.migrate`).

Readers (GraphQL, the event hub) read with their own SQL; nothing outside this package
writes. :class:`Store` is what request handlers get by dependency injection once the
database is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callbox.db.connection import Pool
from callbox.store.faults import StoreLimits
from callbox.store.instance_key import InstanceKey
from callbox.store.writer import IngestWriter


@dataclass(frozen=True, slots=True)
class Store:
    """The running store: the pool, the ingest writer (group commit), the instance key
    that seals the ids readers hand out (:mod:`callbox.store.instance_key`) and the
    time limits of database work (the writer records whether writes fail for lack of
    resources)."""

    pool: Pool
    writer: IngestWriter
    instance_key: InstanceKey
    limits: StoreLimits = field(default_factory=StoreLimits)


__all__ = ["Store"]
