"""Piccolo configuration used only while running Callbox's migrations."""

from piccolo.conf.apps import AppRegistry

from callbox.db.engine import DB

APP_REGISTRY = AppRegistry(apps=["callbox.store.piccolo_app"])

__all__ = ["APP_REGISTRY", "DB"]
