"""The store: the only code that writes to Callbox's tables.

- raw requests, stored with their parsed events (:mod:`callbox.store.writer`, group commit:
  the acknowledgement) and rejected (:mod:`callbox.store.raw_requests`);
- event application behind the acknowledgement (:mod:`callbox.store.applier`): the SQL
  functions in ``store/sql/`` (one file per function, today's body), called with the events
  :mod:`callbox.store.apply` encodes;
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
from typing import Literal

from callbox.db.connection import Pool
from callbox.store.applier import Applier
from callbox.store.faults import StoreLimits
from callbox.store.instance_key import InstanceKey
from callbox.store.writer import IngestWriter


@dataclass(frozen=True, slots=True)
class Store:
    """The running store: the pool, the ingest writer (group commit) and the applier
    behind it, the instance key that seals the ids readers hand out
    (:mod:`callbox.store.instance_key`), the time limits of database work (the writer
    records whether writes fail for lack of resources) and when callbacks are acknowledged
    (``[ingest] acknowledge``)."""

    pool: Pool
    writer: IngestWriter
    applier: Applier
    instance_key: InstanceKey
    limits: StoreLimits = field(default_factory=StoreLimits)
    acknowledge: Literal["stored", "applied"] = "stored"


__all__ = ["Store"]
