"""Callbox's GraphQL API (/graphql): queries over messages, conversations, opt-outs and raw
requests, two mutations, API-key auth with receiver confinement. See docs/graphql.md.

- ``controller``: the Litestar controller (auth guard, limits, GraphiQL switch);
- ``ide``: the GraphiQL page, from files shipped in the package (``ide/``);
- ``schema`` / ``query`` / ``mutation`` / ``types``: the schema, with thin resolvers;
- ``data``: the query layer, where all SQL and the receiver confinement live;
- ``loaders``: per-request DataLoaders batching related objects.
"""
