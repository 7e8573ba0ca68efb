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
    """A copy of ``scope`` for Callbox, mounted at ``prefix``; ``None`` when not Callbox's.

    The host's scope (and its ``state``) is never changed: Callbox's framework writes into
    the scope it is given, so it gets its own ``state`` dict, without the host's Litestar
    connection cache in it.
    """
    path = route_path(scope)
    if path != prefix and not path.startswith(prefix + "/"):
        return None
    root_path = scope.get("root_path", "") + prefix
    inner = dict(scope)
    inner["root_path"] = root_path
    inner["path"] = root_path + path[len(prefix) :]  # ASGI: path includes root_path
    inner.pop("app_root_path", None)
    state = scope.get("state")
    if state is not None:
        inner["state"] = {key: value for key, value in state.items() if key != CONNECTION_STATE_KEY}
    return inner
