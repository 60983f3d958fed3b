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
from services.invites import ScopeOption
from services.org import Page
from storage.models import Community, Role, Street


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
