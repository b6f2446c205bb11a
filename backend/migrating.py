"""Where the migrations are and how Alembic is configured for a database URL: shared by the
``eic`` command (migrate, restore) and ``eic check`` (the migration head), which must not import
each other."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config


def migrations_path() -> Path:
    package = Path(__file__).resolve().parent
    packaged = package / "_migrations"  # inside an installed wheel
    return packaged if packaged.is_dir() else package.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
