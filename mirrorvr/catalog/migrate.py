"""Schema migrations of the catalogue (Alembic, shipped inside the package).

``upgrade(engine)`` brings any catalogue to the newest schema; ``downgrade(engine, "base")``
removes it again. No ``alembic.ini`` is needed: the script location is this package's
``migrations`` folder and the connection is handed over directly.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the catalogue at ``engine`` up to ``revision`` (default: the newest)."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    logger.debug("catalogue %s at revision %s", engine.url.render_as_string(), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Migrate the catalogue down to ``revision`` ("base": no catalogue tables left)."""
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The catalogue's schema revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of mirrorvr."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
