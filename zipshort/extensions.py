"""Unbound extensions and the declarative base; imports nothing from zipshort."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, MetaData, Table, types
from sqlalchemy.orm import DeclarativeBase, registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(types.TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can diff and UTC timestamps."""

    registry = registry(metadata=MetaData(naming_convention=NAMING),
                        type_annotation_map={dt.datetime: UTCDateTime()})


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel

    class Model(_FlaskModel, Base):
        """What a type checker sees of ``db.Model``: Flask-SQLAlchemy's model mixin over ``Base``."""

        __abstract__ = True
        __table__: ClassVar[Table]  # every model maps one table (SQLAlchemy types it as any FromClause)
else:
    # Every table's base class. Flask-SQLAlchemy builds it at run time from ``Base`` as an
    # instance attribute, which a type checker cannot subclass; models import this name instead.
    Model = db.Model
login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()
