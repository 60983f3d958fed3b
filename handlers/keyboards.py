"""Inline keyboards and their callback data: short ASCII ids only (64 bytes at most).

Services re-check every id: a forged or stale button changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers import texts
from nlp import taxonomy
from services import tickets
from services.invites import ScopeOption
from services.org import Page
from services.tickets import TicketCard, VolunteerOption
from storage.models import Community, Rating, Role, Street, Ticket, TicketStatus, User


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
