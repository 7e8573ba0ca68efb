"""Callbox as a Piccolo app: its tables and where its migrations live."""

from piccolo.conf.apps import AppConfig

from callbox.model.tables import ALL_TABLES
from callbox.store.migrations_path import migrations_folder

APP_CONFIG = AppConfig(
    app_name="callbox",
    migrations_folder_path=str(migrations_folder()),
    table_classes=list(ALL_TABLES),
)
