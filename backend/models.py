"""Imports every domain's models so that ``Base.metadata`` knows all tables.

Alembic's autogenerate and the drift test rely on it; add each new domain here.
"""

from backend.db import Base
from backend.identity import models as identity_models

metadata = Base.metadata

__all__ = ["identity_models", "metadata"]
