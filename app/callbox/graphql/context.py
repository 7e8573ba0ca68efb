"""The context every resolver gets: who is asking, the query layer bound to what they may
see, and the request's DataLoaders."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from strawberry.litestar import BaseContext

from callbox.graphql.auth import Principal
from callbox.graphql.data import CallboxData
from callbox.graphql.errors import Forbidden
from callbox.graphql.loaders import Loaders
from callbox.sealing import Sealer
from callbox.store import Store
from callbox.store.faults import DatabaseUnavailable
from callbox.store.instance_key import SchemaNotMigrated


class GraphQLContext(BaseContext, kw_only=True):
    principal: Principal
    data: CallboxData
    loaders: Loaders
    sealer: Sealer
    """Seals the ids and cursors this instance hands out (:mod:`callbox.sealing`)."""

    def reader(self) -> CallboxData:
        """The query layer, for a key with the ``read`` scope (every query's entry point)."""
        if not self.principal.can("read"):
            raise Forbidden("this API key does not have the read scope")
        return self.data

    def writer(self) -> CallboxData:
        """The query layer, for a key with the ``write`` scope (every mutation's entry point)."""
        if not self.principal.can("write"):
            raise Forbidden("this API key does not have the write scope")
        return self.data


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


class SealerUnavailable(Exception):
    """The instance key cannot be read right now (its message is meant for the client)."""


async def instance_sealer(store: Store) -> Sealer:
    """The sealer of the instance's ids and cursors (read once, then kept)."""
    try:
        return await store.instance_key.sealer()
    except SchemaNotMigrated as error:
        raise SealerUnavailable(str(error)) from None
    except DatabaseUnavailable:
        raise SealerUnavailable("database unavailable; retry later") from None
