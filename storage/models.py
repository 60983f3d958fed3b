"""SQLModel tables. No business rules here: services/ holds them.

Alembic migrations under storage/migrations are the only way the schema is made.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, Index, UniqueConstraint
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
    # False after Telegram refused delivery twice in a row (blocked or deactivated).
    reachable: bool = True
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
    # The sender claims pending rows by priority, then age.
    __table_args__ = (Index("ix_outbox_claim", "status", "priority", "id"),)

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


class TicketStatus(StrEnum):
    new = "new"  # 待受理
    accepted = "accepted"  # 已受理
    dispatched = "dispatched"  # 已派单
    in_progress = "in_progress"  # 处理中
    awaiting_confirmation = "awaiting_confirmation"  # 待确认
    closed = "closed"  # 已办结
    escalated = "escalated"  # 已转办
    rejected = "rejected"  # 不予受理
    duplicate = "duplicate"  # 重复
    reopened = "reopened"  # 重新办理


class Rating(StrEnum):
    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意


class Ticket(SQLModel, table=True):
    """A resident's need, from report to the resident's confirmation (对账销号)."""

    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    # GS<yyyymmdd>-<4 digits>, the date in Asia/Shanghai.
    number: str = Field(unique=True, max_length=20)
    reporter_id: int = Field(foreign_key="app_user.id", index=True)
    # The resident who confirms and rates; None when a volunteer reports for a household
    # whose people do not use the bot.
    resident_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    household_id: int | None = Field(default=None, foreign_key="household.id", index=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    text: str
    category: str = Field(max_length=20, index=True)
    urgent: bool = False
    confidence: float = 0.0
    keywords: str = Field(default="", max_length=300)  # ";"-separated: why nlp decided
    urgent_cue: str = Field(default="", max_length=40)
    status: TicketStatus = Field(default=TicketStatus.new, sa_type=enum_column(TicketStatus, 24))
    supervised: bool = False  # 督办
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id")
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    latitude: float | None = None
    longitude: float | None = None
    resolution_note: str = Field(default="", max_length=1000)
    rating: Rating | None = Field(default=None, sa_type=enum_column(Rating))
    rating_comment: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    respond_by: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TicketPhoto(SQLModel, table=True):
    __tablename__ = "ticket_photo"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    file_id: str = Field(max_length=200)
    # "report" (with the need) or "resolution" (with the handler's note).
    stage: str = Field(default="report", max_length=16)
    added_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class TicketEvent(SQLModel, table=True):
    """The audit trail: who did what to a ticket, when, from which status to which."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=24)
    from_status: TicketStatus | None = Field(default=None, sa_type=enum_column(TicketStatus, 24))
    to_status: TicketStatus | None = Field(default=None, sa_type=enum_column(TicketStatus, 24))
    note: str = Field(default="", max_length=1000)


# ---------------------------------------------------------------- visits and tasks (issue 5)


class VisitOutcome(StrEnum):
    met_resident = "met_resident"  # 见到本人
    met_family = "met_family"  # 见到家属
    not_home = "not_home"  # 不在家
    refused = "refused"  # 拒绝


class Visit(SQLModel, table=True):
    """A volunteer's household visit (走访)."""

    __tablename__ = "visit"
    # Coverage and activity figures look visits up by household or volunteer and time.
    __table_args__ = (
        Index("ix_visit_household_visited", "household_id", "visited_at"),
        Index("ix_visit_volunteer_visited", "volunteer_id", "visited_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    volunteer_id: int = Field(foreign_key="app_user.id", index=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    visited_at: datetime = Field(sa_type=UTCDateTime, index=True)
    outcome: VisitOutcome = Field(sa_type=enum_column(VisitOutcome))
    note: str = Field(default="", max_length=2000)
    latitude: float | None = None
    longitude: float | None = None
    photo_file_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TaskStatus(StrEnum):
    open = "open"  # 待接单
    taken = "taken"  # 已接单
    done = "done"  # 已完成, waiting for the coordinator
    confirmed = "confirmed"  # 已确认
    returned = "returned"  # 退回重做
    cancelled = "cancelled"  # 已取消


class Task(SQLModel, table=True):
    """Work for volunteers: standalone (/task) or born from a dispatched ticket (ticket_id).

    To one volunteer (assignee_id set at creation) or to every volunteer of a grid
    (assignee_id None until the first one accepts)."""

    __tablename__ = "task"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    text: str = Field(max_length=2000)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    status: TaskStatus = Field(default=TaskStatus.open, sa_type=enum_column(TaskStatus))
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    taken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result_note: str = Field(default="", max_length=1000)
    result_photo_file_id: str | None = Field(default=None, max_length=200)


class TaskEvent(SQLModel, table=True):
    __tablename__ = "task_event"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=24)
    note: str = Field(default="", max_length=1000)


# ---------------------------------------------------------------- follow-ups and events (issue 6)


class FollowUpStatus(StrEnum):
    pending = "pending"
    claimed = "claimed"
    done = "done"
    cancelled = "cancelled"


class FollowUp(SQLModel, table=True):
    """Something due later (a reminder, an escalation, a callback). The database, not the
    scheduler's memory, is the source of truth for what is due."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    kind: str = Field(max_length=40)
    payload: str = Field(default="{}")  # JSON
    status: FollowUpStatus = Field(
        default=FollowUpStatus.pending, sa_type=enum_column(FollowUpStatus), index=True
    )
    attempts: int = 0
    idempotency_key: str = Field(unique=True, max_length=160)
    created_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=300)


class EventStatus(StrEnum):
    draft = "draft"
    published = "published"
    cancelled = "cancelled"


class Audience(StrEnum):
    community = "community"
    grid = "grid"
    street = "street"


class CommunityEvent(SQLModel, table=True):
    """A weekend community programme (周末社区)."""

    __tablename__ = "community_event"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=60)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(max_length=100)
    capacity: int = Field(ge=1)
    audience: Audience = Field(sa_type=enum_column(Audience))
    # The community, grid or street the event is for.
    audience_id: int
    description: str = Field(default="", max_length=1000)
    status: EventStatus = Field(default=EventStatus.draft, sa_type=enum_column(EventStatus))
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    checkin_code: str | None = Field(default=None, max_length=12)
    checkin_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignupStatus(StrEnum):
    attending = "attending"
    waiting = "waiting"
    cancelled = "cancelled"


class EventSignup(SQLModel, table=True):
    __tablename__ = "event_signup"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="community_event.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    status: SignupStatus = Field(sa_type=enum_column(SignupStatus))
    # Waiting-list order; moved to the end on re-joining.
    joined_at: datetime = Field(sa_type=UTCDateTime)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rating: int | None = Field(default=None, ge=1, le=5)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """Who wants which digest (e.g. the Friday weekend-events digest)."""

    __tablename__ = "subscription"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    topic: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)


# ---------------------------------------------------------------- broadcasts (issue 7)


class BroadcastStatus(StrEnum):
    draft = "draft"
    sending = "sending"
    done = "done"
    cancelled = "cancelled"


class Broadcast(SQLModel, table=True):
    __tablename__ = "broadcast"

    id: int | None = Field(default=None, primary_key=True)
    created_by: int = Field(foreign_key="app_user.id")
    text: str = Field(max_length=4096)
    photo_file_id: str | None = Field(default=None, max_length=200)
    audience: str = Field(max_length=24)  # residents | volunteers | grid | event | street
    audience_id: int | None = None
    status: BroadcastStatus = Field(
        default=BroadcastStatus.draft, sa_type=enum_column(BroadcastStatus)
    )
    total: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The coordinator's progress message, edited as the broadcast goes.
    status_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    status_message_id: int | None = Field(default=None, sa_type=BigInteger)
