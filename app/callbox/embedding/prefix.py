"""Which requests are Callbox's (those under its prefix), and their scope as Callbox sees it."""

from __future__ import annotations

from litestar.utils.scope.state import CONNECTION_STATE_KEY

from callbox.embedding.asgi import Scope

DEFAULT_PREFIX = "/callbox"


def checked_prefix(prefix: str) -> str:
    """``"callbox/"`` → ``"/callbox"``; the root is refused (the host's routes live there).

    Raises:
        ValueError: the prefix is empty, the root, or has empty or unusual segments.
    """
    cleaned = "/" + prefix.strip("/")
    segments = cleaned[1:].split("/")
    if cleaned == "/" or any(not segment or segment in (".", "..") for segment in segments):
        raise ValueError(f"prefix {prefix!r}: name a path below the root, such as '/callbox'")
    if any(character in cleaned for character in "{}?#%\\ "):
        raise ValueError(f"prefix {prefix!r}: use plain path segments, such as '/callbox'")
    return cleaned


def route_path(scope: Scope) -> str:
    """The path below the app's ``root_path`` (servers differ on whether ``path`` has it)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest
    return path


def scope_under_prefix(scope: Scope, prefix: str) -> Scope | None:
    """A copy of ``scope`` for Callbox, mounted at ``prefix``; ``None`` when not Callbox's."""
    path = route_path(scope)
    if path != prefix and not path.startswith(prefix + "/"):
        return None
    return _inner_scope(scope, scope.get("root_path", "") + prefix, path[len(prefix) :])


def routed_path(scope: Scope, prefix: str) -> str:
    """The path a Litestar host routed to its mount at ``prefix`` (``/callbox/graphql``).

    Litestar's router replaces the ``path`` of the host's scope with the path below the
    mount, with a ``/`` added (``/graphql/`` for ``/callbox/graphql``, ``/`` for
    ``/callbox``), and that is what the server's access log and the host's middleware would
    show. For the host's own routes it leaves the path it routed (without ``root_path``,
    without a trailing ``/``): this gives the same for Callbox's.
    """
    below: str = scope["path"]
    return prefix + below.removesuffix("/")


def scope_in_mount(scope: Scope, prefix: str) -> Scope | None:
    """A copy of the scope of a Litestar host, whose ``path`` is :func:`routed_path`, for
    Callbox; ``None`` when not Callbox's.

    Litestar also routes ``/callboxes/...`` to a mount at ``/callbox``: that is not
    Callbox's.
    """
    rest = scope["path"].removeprefix(prefix)
    if rest and not rest.startswith("/"):
        return None
    return _inner_scope(scope, scope.get("root_path", "") + prefix, rest or "/")


_HOST_ROUTING_KEYS = ("app_root_path", "route_handler", "path_template", "path_params")


def _inner_scope(scope: Scope, root_path: str, rest: str) -> Scope:
    """The host's scope (and its ``state``) is never changed: Callbox's framework writes into
    the scope it is given, so it gets its own copy, and its own ``state`` dict without the
    host's Litestar connection cache in it. What the host's router put there goes."""
    inner = {key: value for key, value in scope.items() if key not in _HOST_ROUTING_KEYS}
    inner["root_path"] = root_path
    inner["path"] = root_path + rest  # ASGI: path includes root_path
    state = scope.get("state")
    if state is not None:
        inner["state"] = {key: value for key, value in state.items() if key != CONNECTION_STATE_KEY}
    return inner
