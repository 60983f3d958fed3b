"""SQLModel tables. No business rules here: services/ holds them.

Alembic migrations under storage/migrations are the only way the schema is made.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class Role(StrEnum):
    resident = "resident"
    volunteer = "volunteer"
    coordinator = "coordinator"
    admin = "admin"


# Household tags the roster may carry (issue 5 validates imports against these).
HOUSEHOLD_TAGS = ("独居老人", "高龄", "残疾", "低保", "空巢", "特困", "退役军人", "重点关注")


def enum_column(enum: type[StrEnum], length: int = 16) -> Enum:
    """Stored as VARCHAR, not a database enum type, so adding a value needs no type migration."""
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


RoleColumn = enum_column(Role)


class Street(SQLModel, table=True):
    __tablename__ = "street"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)


class Community(SQLModel, table=True):
    __tablename__ = "community"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    name: str = Field(max_length=64)
    # Printed at the community's 海棠民情站 as the deep link /start st_<code>.
    station_code: str = Field(unique=True, max_length=16)


class Grid(SQLModel, table=True):
    __tablename__ = "grid"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int = Field(ge=1)
    name: str = Field(max_length=64)


class Household(SQLModel, table=True):
    __tablename__ = "household"
    __table_args__ = (UniqueConstraint("grid_id", "building", "unit", "room"),)

    id: int | None = Field(default=None, primary_key=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)
    building: str = Field(max_length=32)
    unit: str = Field(default="", max_length=16)
    room: str = Field(max_length=16)
    head_name: str = Field(max_length=32)
    phone: str = Field(default="", max_length=20)
    # Tags separated by ";" (see HOUSEHOLD_TAGS).
    tags: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True)
    chat_id: int = Field(sa_type=BigInteger)
    display_name: str = Field(max_length=64)
    role: Role = Field(default=Role.resident, sa_type=RoleColumn)
    # Scope: a resident's community, a volunteer's grid, a coordinator's community,
    # an admin's street (no street: the whole district).
    street_id: int | None = Field(default=None, foreign_key="street.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    household_id: int | None = Field(default=None, foreign_key="household.id")
    phone: str = Field(default="", max_length=20)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


class VolunteerHousehold(SQLModel, table=True):
    """The "1+10+N" structure: one volunteer looks after about ten households."""

    __tablename__ = "volunteer_household"

    volunteer_id: int = Field(foreign_key="app_user.id", primary_key=True)
    household_id: int = Field(foreign_key="household.id", primary_key=True, index=True)
    assigned_at: datetime = Field(sa_type=UTCDateTime)


class InviteCode(SQLModel, table=True):
    __tablename__ = "invite_code"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    role: Role = Field(sa_type=RoleColumn)
    street_id: int | None = Field(default=None, foreign_key="street.id")
    community_id: int | None = Field(default=None, foreign_key="community.id")
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    uses_left: int = Field(ge=0)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class InviteAttempt(SQLModel, table=True):
    """A failed invite redemption, kept only to limit guessing."""

    __tablename__ = "invite_attempt"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, index=True)
    at: datetime = Field(sa_type=UTCDateTime)


class ProcessedUpdate(SQLModel, table=True):
    """Telegram update ids already handled: a replayed update changes nothing."""

    __tablename__ = "processed_update"

    update_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    processed_at: datetime = Field(sa_type=UTCDateTime)


class NlpCorrection(SQLModel, table=True):
    """A coordinator's correction of the classifier, folded in by `haitang nlp learn`."""

    __tablename__ = "nlp_correction"

    id: int | None = Field(default=None, primary_key=True)
    text: str
    category: str = Field(max_length=32)
    urgent: bool
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    ticket_id: int | None = None


class OutboxStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    unreachable = "unreachable"
    cancelled = "cancelled"


class Outbox(SQLModel, table=True):
    """One message to one chat that is not the direct reply to that chat's own update.

    Services write rows; the paced sender renders and delivers them within Telegram's limits.
    `kind` and `payload` name what to say (rendered at send time by handlers/notices.py), so
    services stay free of presentation and of aiogram.
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger, index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    kind: str = Field(max_length=40)
    payload: str = Field(default="{}")  # JSON
    # Lower goes first: 0 urgent, 5 notices, 9 broadcasts.
    priority: int = Field(default=5, ge=0, le=9)
    status: OutboxStatus = Field(
        default=OutboxStatus.pending,
        sa_type=enum_column(OutboxStatus),
    )
    attempts: int = 0
    next_try_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    # Enqueuing the same key twice yields one message.
    idempotency_key: str = Field(unique=True, max_length=120)
    broadcast_id: int | None = Field(default=None, index=True)


class FsmState(SQLModel, table=True):
    """aiogram's conversation state, kept in the database so a restart loses no half-done flow."""

    __tablename__ = "fsm_state"

    key: str = Field(primary_key=True, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    data: str = Field(default="{}")  # JSON
