"""Inline keyboards and their callback data: short ASCII ids only (64 bytes at most).

Services re-check every id: a forged or stale button changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers import texts
from nlp import taxonomy
from services import tasks, tickets
from services.broadcasts import AudienceOption
from services.cadence import GridCoverage, HouseholdDue
from services.events import AudienceChoice, EventView
from services.invites import ScopeOption
from services.org import Page
from services.tasks import TargetOption, TaskAction, TaskView
from services.tickets import TicketCard, VolunteerOption
from services.visits import OUTCOMES, HouseholdCard, VisitSummary
from storage.models import Community, Rating, Role, Street, Task, Ticket, TicketStatus, User


class ConsentCb(CallbackData, prefix="cs"):
    agree: bool
    # The /start payload (a station or invite code) carried through consent, so nothing
    # is stored before the user agrees.
    payload: str = ""


class StreetPageCb(CallbackData, prefix="sp"):
    page: int


class StreetCb(CallbackData, prefix="st"):
    street_id: int
    page: int = 0


class CommunityCb(CallbackData, prefix="cm"):
    community_id: int


class InviteCb(CallbackData, prefix="iv"):
    role: str
    scope_id: int = 0
    uses: int = 0


def consent(payload: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.CONSENT_YES,
                    callback_data=ConsentCb(agree=True, payload=payload).pack(),
                ),
                InlineKeyboardButton(
                    text=texts.CONSENT_NO, callback_data=ConsentCb(agree=False).pack()
                ),
            ]
        ]
    )


def _add_pager(
    builder: InlineKeyboardBuilder, page: Page[Any], page_button: Callable[[int], CallbackData]
) -> None:
    nav: list[InlineKeyboardButton] = []
    if page.has_prev:
        nav.append(
            InlineKeyboardButton(
                text=texts.PREV_PAGE, callback_data=page_button(page.page - 1).pack()
            )
        )
    if page.has_next:
        nav.append(
            InlineKeyboardButton(
                text=texts.NEXT_PAGE, callback_data=page_button(page.page + 1).pack()
            )
        )
    if nav:
        builder.row(*nav)


def streets(page: Page[Street]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for street in page.items:
        assert street.id is not None
        builder.row(
            InlineKeyboardButton(
                text=street.name, callback_data=StreetCb(street_id=street.id).pack()
            )
        )
    _add_pager(builder, page, lambda n: StreetPageCb(page=n))
    return builder.as_markup()


def communities(street_id: int, page: Page[Community]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for community in page.items:
        assert community.id is not None
        builder.row(
            InlineKeyboardButton(
                text=community.name,
                callback_data=CommunityCb(community_id=community.id).pack(),
            )
        )
    _add_pager(builder, page, lambda n: StreetCb(street_id=street_id, page=n))
    builder.row(
        InlineKeyboardButton(text=texts.BACK_TO_STREETS, callback_data=StreetPageCb(page=0).pack())
    )
    return builder.as_markup()


def invite_roles(roles: Sequence[Role]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for role in roles:
        builder.row(
            InlineKeyboardButton(
                text=texts.ROLE_NAMES[role], callback_data=InviteCb(role=role.value).pack()
            )
        )
    return builder.as_markup()


def invite_scopes(role: Role, options: Sequence[ScopeOption]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for option in options:
        builder.button(
            text=option.label,
            callback_data=InviteCb(role=role.value, scope_id=option.id).pack(),
        )
    builder.adjust(2)
    return builder.as_markup()


def invite_uses(role: Role, scope_id: int, choices: Sequence[int]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for uses in choices:
        builder.button(
            text=texts.INVITE_USES_BUTTON.format(uses=uses),
            callback_data=InviteCb(role=role.value, scope_id=scope_id, uses=uses).pack(),
        )
    builder.adjust(len(choices))
    return builder.as_markup()


# ---------------------------------------------------------------- tickets


class TicketCb(CallbackData, prefix="tk"):
    """A step on one ticket. `op` is a short code; `arg` a volunteer, a ticket or a rating."""

    op: str
    id: int
    arg: int = 0


class CategoryCb(CallbackData, prefix="tc"):
    id: int
    code: str


class ListCb(CallbackData, prefix="tl"):
    kind: str  # inbox | mine | tasks
    page: int


class HouseholdCb(CallbackData, prefix="hh"):
    id: int


RATING_ORDER = (Rating.satisfied, Rating.basically, Rating.dissatisfied)


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def recategorize(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_RECATEGORIZE, TicketCb(op="cat", id=ticket_id))]]
    )


def categories(ticket_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in taxonomy.CATEGORIES:
        builder.button(text=name, callback_data=CategoryCb(id=ticket_id, code=code).pack())
    builder.adjust(3)
    return builder.as_markup()


def ticket_actions(card: TicketCard, actor: User) -> InlineKeyboardMarkup:
    """Only the moves this actor may make now are offered; the service checks again."""
    t = card.ticket
    assert t.id is not None
    builder = InlineKeyboardBuilder()
    row: list[InlineKeyboardButton] = []
    if tickets.can_act(actor, t, tickets.Action.accept):
        row.append(_button(texts.BTN_ACCEPT, TicketCb(op="acc", id=t.id)))
    if tickets.can_act(actor, t, tickets.Action.dispatch):
        row.append(_button(texts.BTN_DISPATCH, TicketCb(op="dsp", id=t.id)))
    if tickets.can_act(actor, t, tickets.Action.resolve) and t.status != TicketStatus.dispatched:
        row.append(_button(texts.BTN_RESOLVE, TicketCb(op="res", id=t.id)))
    if row:
        builder.row(*row)
    row = []
    if tickets.can_act(actor, t, tickets.Action.recategorize):
        row.append(_button(texts.BTN_RECATEGORIZE, TicketCb(op="cat", id=t.id)))
    if tickets.can_act(actor, t, tickets.Action.escalate):
        row.append(_button(texts.BTN_ESCALATE, TicketCb(op="esc", id=t.id)))
    if tickets.can_act(actor, t, tickets.Action.refuse):
        row.append(_button(texts.BTN_REFUSE, TicketCb(op="rf", id=t.id)))
    if row:
        builder.row(*row)
    for other in card.duplicates:
        assert other.id is not None
        builder.row(
            _button(
                texts.BTN_MERGE.format(number=other.number),
                TicketCb(op="mg", id=t.id, arg=other.id),
            )
        )
    if card.photos:
        builder.row(_button(texts.BTN_PHOTOS, TicketCb(op="pic", id=t.id)))
    return builder.as_markup()


def open_ticket(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_OPEN, TicketCb(op="card", id=ticket_id))]]
    )


def task_offer(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_TAKE, TicketCb(op="take", id=ticket_id)),
                _button(texts.BTN_DECLINE, TicketCb(op="dc", id=ticket_id)),
            ]
        ]
    )


def task_done(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_RESOLVE, TicketCb(op="res", id=ticket_id))]]
    )


def confirm(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_SOLVED, TicketCb(op="ok", id=ticket_id)),
                _button(texts.BTN_UNSOLVED, TicketCb(op="no", id=ticket_id)),
            ]
        ]
    )


def ratings(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.RATING_NAMES[r], TicketCb(op="rate", id=ticket_id, arg=i))
                for i, r in enumerate(RATING_ORDER)
            ]
        ]
    )


def skip_comment(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_SKIP, TicketCb(op="skip", id=ticket_id))]]
    )


def volunteers(ticket_id: int, options: Sequence[VolunteerOption]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for o in options:
        builder.row(
            _button(texts.volunteer_label(o), TicketCb(op="dv", id=ticket_id, arg=o.user_id))
        )
    builder.row(_button(texts.BTN_BACK, TicketCb(op="card", id=ticket_id)))
    return builder.as_markup()


def ticket_list(kind: str, page: Page[Ticket]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for t in page.items:
        assert t.id is not None
        builder.row(_button(texts.ticket_line(t), TicketCb(op="card", id=t.id)))
    _add_pager(builder, page, lambda n: ListCb(kind=kind, page=n))
    return builder.as_markup()


def households(options: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for household_id, label in options:
        builder.button(text=label, callback_data=HouseholdCb(id=household_id).pack())
    builder.adjust(2)
    return builder.as_markup()


# ---------------------------------------------------------------- visits, households, tasks (issue 5)


class VisitCb(CallbackData, prefix="vs"):
    """A step of a visit. `op`: h (household), o (outcome), nn (no note), n (need; `code` its
    category), e (correct), eo (corrected outcome), kn (keep the note). `id` is a household
    (h, o, nn) or a visit; `arg` an index into OUTCOMES."""

    op: str
    id: int
    arg: int = 0
    code: str = ""


class HouseholdCardCb(CallbackData, prefix="hc"):
    id: int


class CoverageCb(CallbackData, prefix="cg"):
    grid_id: int


class TaskCb(CallbackData, prefix="ta"):
    """A step on one task: card, take, dc (decline), done, ok (confirm), ret (return)."""

    op: str
    id: int


class TaskNewCb(CallbackData, prefix="tn"):
    """While creating a task: g (a grid), v (a volunteer), nodue (no due time)."""

    kind: str
    id: int = 0


def visit_households(dues: Sequence[HouseholdDue], now: datetime) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for due in dues:
        assert due.household.id is not None
        builder.row(_button(texts.household_button(due, now), VisitCb(op="h", id=due.household.id)))
    return builder.as_markup()


def outcomes(household_id: int, *, visit_id: int | None = None) -> InlineKeyboardMarkup:
    """The four outcomes, for a new visit or (with `visit_id`) a correction."""
    builder = InlineKeyboardBuilder()
    for index, outcome in enumerate(OUTCOMES):
        data = (
            VisitCb(op="o", id=household_id, arg=index)
            if visit_id is None
            else VisitCb(op="eo", id=visit_id, arg=index)
        )
        builder.button(text=texts.OUTCOME_NAMES[outcome], callback_data=data.pack())
    builder.adjust(2)
    return builder.as_markup()


def no_note(household_id: int, outcome_index: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(texts.BTN_NO_NOTE, VisitCb(op="nn", id=household_id, arg=outcome_index))]
        ]
    )


def keep_note(visit_id: int, outcome_index: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(texts.BTN_KEEP_NOTE, VisitCb(op="kn", id=visit_id, arg=outcome_index))]
        ]
    )


def visit_summary(summary: VisitSummary) -> InlineKeyboardMarkup:
    """One button per need (a filed one shows its number), and 修改记录 within 24 hours."""
    visit_id = summary.visit.id
    assert visit_id is not None
    builder = InlineKeyboardBuilder()
    for need in summary.needs:
        builder.row(
            _button(texts.need_label(need), VisitCb(op="n", id=visit_id, code=need.category))
        )
    if summary.editable:
        builder.row(_button(texts.BTN_EDIT_VISIT, VisitCb(op="e", id=visit_id)))
    return builder.as_markup()


def household_list(dues: Sequence[HouseholdDue], now: datetime) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for due in dues:
        assert due.household.id is not None
        builder.row(_button(texts.household_button(due, now), HouseholdCardCb(id=due.household.id)))
    return builder.as_markup()


def household_card(card: HouseholdCard) -> InlineKeyboardMarkup | None:
    if not card.can_visit or card.household.id is None:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_VISIT_THIS, VisitCb(op="h", id=card.household.id))]]
    )


def coverage(grids: Sequence[GridCoverage]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for g in grids:
        assert g.grid.id is not None
        builder.row(_button(texts.coverage_button(g), CoverageCb(grid_id=g.grid.id)))
    return builder.as_markup()


def task_targets(options: Sequence[TargetOption]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for o in options:
        kind = "g" if o.kind == "grid" else "v"
        builder.row(_button(texts.target_label(o), TaskNewCb(kind=kind, id=o.id)))
    return builder.as_markup()


def no_due() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_NO_DUE, TaskNewCb(kind="nodue"))]]
    )


def task_offer_buttons(task_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_TAKE, TaskCb(op="take", id=task_id)),
                _button(texts.BTN_DECLINE, TaskCb(op="dc", id=task_id)),
            ]
        ]
    )


def task_actions(view: TaskView, actor: User) -> InlineKeyboardMarkup | None:
    """Only the moves this actor may make now; the service checks again. A ticket's task
    keeps the ticket's words (已处理) and may be declined only before it is taken."""
    t = view.task
    assert t.id is not None
    row: list[InlineKeyboardButton] = []
    if tasks.can_act(actor, t, TaskAction.take):
        row.append(_button(texts.BTN_TAKE, TaskCb(op="take", id=t.id)))
    if tasks.can_act(actor, t, TaskAction.complete):
        label = texts.BTN_RESOLVE if t.ticket_id else texts.BTN_TASK_DONE
        row.append(_button(label, TaskCb(op="done", id=t.id)))
    if tasks.can_act(actor, t, TaskAction.decline) and (t.ticket_id is None or t.status == "open"):
        row.append(_button(texts.BTN_DECLINE, TaskCb(op="dc", id=t.id)))
    if tasks.can_act(actor, t, TaskAction.confirm):
        row.append(_button(texts.BTN_TASK_CONFIRM, TaskCb(op="ok", id=t.id)))
    if tasks.can_act(actor, t, TaskAction.give_back):
        row.append(_button(texts.BTN_TASK_RETURN, TaskCb(op="ret", id=t.id)))
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


def task_list(items: Sequence[Task], now: datetime) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for t in items:
        assert t.id is not None
        builder.row(_button(texts.task_line(t, now), TaskCb(op="card", id=t.id)))
    return builder.as_markup()


def open_task(task_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_TASK_OPEN, TaskCb(op="card", id=task_id))]]
    )


def task_review(task_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_TASK_CONFIRM, TaskCb(op="ok", id=task_id)),
                _button(texts.BTN_TASK_RETURN, TaskCb(op="ret", id=task_id)),
            ]
        ]
    )


def task_redo(task_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_TASK_DONE, TaskCb(op="done", id=task_id))]]
    )


# ---------------------------------------------------------------- weekend events (issue 6)


class EventCb(CallbackData, prefix="ev"):
    """A step on one event. op: join | leave | pub | drop | code | rate (arg = stars)."""

    op: str
    id: int
    arg: int = 0


class AudienceCb(CallbackData, prefix="ea"):
    kind: str  # community | grid | street
    id: int


class EventStepCb(CallbackData, prefix="es"):
    op: str  # nodesc: no description


def audiences(choices: Sequence[AudienceChoice]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for choice in choices:
        builder.button(
            text=texts.audience_label(choice),
            callback_data=AudienceCb(kind=choice.audience.value, id=choice.id).pack(),
        )
    builder.adjust(1)
    return builder.as_markup()


def skip_description() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_SKIP, EventStepCb(op="nodesc"))]]
    )


def event_publish(event_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_EVENT_PUBLISH, EventCb(op="pub", id=event_id)),
                _button(texts.BTN_EVENT_DISCARD, EventCb(op="drop", id=event_id)),
            ]
        ]
    )


def event_join(event_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.BTN_EVENT_JOIN, EventCb(op="join", id=event_id))]]
    )


def event_actions(view: EventView) -> InlineKeyboardMarkup:
    """For a resident or volunteer: 报名, or 取消报名 / 退出候补."""
    assert view.event.id is not None
    if view.mine is None:
        return event_join(view.event.id)
    text = texts.BTN_EVENT_LEAVE if view.mine == "attending" else texts.BTN_EVENT_LEAVE_WAITING
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(text, EventCb(op="leave", id=view.event.id))]]
    )


def event_staff(view: EventView, checkin_open: bool) -> InlineKeyboardMarkup | None:
    """For its coordinators: 发布 for a draft, 签到码 while check-in is open."""
    event_id = view.event.id
    assert event_id is not None
    if view.event.status == "draft":
        return event_publish(event_id)
    if checkin_open:
        return InlineKeyboardMarkup(
            inline_keyboard=[[_button(texts.BTN_EVENT_CODE, EventCb(op="code", id=event_id))]]
        )
    return None


def event_rating(event_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.star_button(n), EventCb(op="rate", id=event_id, arg=n))
                for n in range(1, 6)
            ]
        ]
    )


def event_digest(events: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for event_id, title in events:
        builder.row(_button(texts.event_button(title), EventCb(op="join", id=event_id)))
    return builder.as_markup()


def checkin_choices(events: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for event_id, title in events:
        builder.row(_button(title, EventCb(op="code", id=event_id)))
    return builder.as_markup()


# ---------------------------------------------------------------- broadcasts (issue 7)


class BroadcastCb(CallbackData, prefix="bc"):
    op: str  # aud | ok | no | stop
    id: int
    target: str = ""
    tid: int = 0


def broadcast_audiences(
    broadcast_id: int, options: Sequence[AudienceOption]
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for o in options:
        builder.row(
            _button(
                texts.broadcast_audience(o.target.value, o.label),
                BroadcastCb(op="aud", id=broadcast_id, target=o.target.value, tid=o.target_id),
            )
        )
    builder.row(_button(texts.BTN_CANCEL, BroadcastCb(op="no", id=broadcast_id)))
    return builder.as_markup()


def broadcast_confirm(broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(texts.BTN_SEND_BROADCAST, BroadcastCb(op="ok", id=broadcast_id)),
                _button(texts.BTN_CANCEL, BroadcastCb(op="no", id=broadcast_id)),
            ]
        ]
    )


def broadcast_running(broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(texts.BTN_STOP_BROADCAST, BroadcastCb(op="stop", id=broadcast_id))]
        ]
    )
