"""``CallboxPlugin``: Callbox's routes and lifecycle registered into a Litestar host app."""

from __future__ import annotations

from litestar import Router
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin

from callbox.embedding.instance import instance_for
from callbox.embedding.prefix import DEFAULT_PREFIX, checked_prefix
from callbox.settings import ConfigError, Settings


class CallboxPlugin(InitPlugin):
    """Callbox's receivers, ``/graphql``, ``/health`` and ``/ready`` under ``prefix`` in the host.

    Callbox starts before the host's own lifespan managers and stops after them. Its
    middleware wraps its own routes only; the host's app-level middleware, guards and hooks
    apply to Callbox's routes as to any route. Callbox's app state keys (``callbox_...``)
    go beside the host's; a host already using one is refused rather than overwritten.

    Example::

        app = Litestar(route_handlers=[...], plugins=[CallboxPlugin(settings)])

    Raises:
        ConfigError: a secret in the settings cannot be resolved, or a state key clashes.
        ValueError: the prefix is the root or not a plain path.
    """

    def __init__(self, settings: Settings, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.settings = settings
        self.prefix = checked_prefix(prefix)
        self._callbox = instance_for(settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        parts = self._callbox.parts
        clashes = sorted(key for key in parts.state if key in app_config.state)
        if clashes:
            raise ConfigError(
                f"the app's state already holds {', '.join(clashes)}: Callbox keeps its own "
                "objects there (is a second CallboxPlugin registered?)"
            )
        app_config.state.update(parts.state)
        app_config.route_handlers.append(
            Router(
                path=self.prefix,
                route_handlers=parts.route_handlers,
                middleware=parts.middleware,
                include_in_schema=False,
            )
        )
        app_config.lifespan.insert(0, self._callbox.running)
        return app_config
