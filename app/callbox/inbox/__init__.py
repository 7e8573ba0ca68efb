"""The live inbox page at ``/inbox``: plain files, a browser client of the public GraphQL API.

The page (``static/``: HTML, CSS and ES modules, no build step) reads its initial state with
GraphQL queries over HTTP and follows changes with a ``graphql-transport-ws`` subscription.
It holds no data and no credentials of its own; see docs/inbox.md.
"""

from callbox.inbox.routes import INBOX_PATH, inbox_enabled, inbox_routes

__all__ = ["INBOX_PATH", "inbox_enabled", "inbox_routes"]
