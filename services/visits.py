"""Household visits (走访) and the household card (提户知人).

A volunteer records a visit to one of their households: the outcome, a note, optionally a
location and a photo. The note is read clause by clause; every need found is offered as a
ticket for that household (issue 4's intake), linked to the visit. The author may correct the
outcome and the note within 24 hours.

The household card is for the household's volunteers and its community's coordinators only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from nlp.classifier import Classifier
from nlp.taxonomy import UNSURE
from services import followups, tickets
from services.cadence import HouseholdDue, interval_for, tags_of, volunteer_households
from services.clock import Clock, as_utc
from services.errors import Refusal, ServiceError
from services.org import describe_place, household_address
from services.tickets import TicketRules, mask_phone
from storage.models import (
    Grid,
    Household,
    Role,
    Ticket,
    TicketStatus,
    User,
    Visit,
    VisitOutcome,
    VolunteerHousehold,
)

OUTCOMES = (
    VisitOutcome.met_resident,
    VisitOutcome.met_family,
    VisitOutcome.not_home,
    VisitOutcome.refused,
)
EDIT_WINDOW = timedelta(hours=24)
MAX_NOTE = 2000
CARD_VISITS = 5
# Categories that are not a need to act on, and the confidence below which a clause is taken
# for small talk ("身体挺好", "精神不错") unless it is urgent.
NOT_NEEDS = frozenset({UNSURE, "other"})
NEED_CONFIDENCE = 0.5
_SENTENCE = re.compile(r"[。！？；!?;\n]+")
_CLAUSE = re.compile(r"[，,]+")


# ---------------------------------------------------------------- needs in a note


@dataclass(frozen=True)
class Need:
    """One need found in a note: its category, the clauses that say it, and the ticket once
    it has been filed."""

    category: str
    text: str
    urgent: bool = False
    ticket_number: str | None = None


def _need_of(classifier: Classifier, text: str) -> tuple[str | None, bool]:
    """The category of a need `text` says (None: none) and whether it is urgent."""
    result = classifier.classify(text)
    if result.category in NOT_NEEDS or (result.confidence < NEED_CONFIDENCE and not result.urgent):
        return None, False
    return result.category, bool(result.urgent)


def sentences(note: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(note) if s.strip()]


def find_needs(classifier: Classifier, note: str) -> list[Need]:
    """Each sentence is read as a whole and clause by clause: clauses of different categories
    are different needs (a clause without a category stays with the one before it); the same
    category across the note is one need."""
    found: dict[str, list[str]] = {}
    urgent: dict[str, bool] = {}
    for sentence in sentences(note):
        clauses = [c.strip() for c in _CLAUSE.split(sentence) if c.strip()]
        groups: list[tuple[str, list[str], bool]] = []
        pending: list[str] = []  # clauses before the first one with a category
        for clause in clauses:
            category, is_urgent = _need_of(classifier, clause)
            if category is None:
                if groups:
                    groups[-1][1].append(clause)
                else:
                    pending.append(clause)
                continue
            if groups and groups[-1][0] == category:
                groups[-1][1].append(clause)
                groups[-1] = (category, groups[-1][1], groups[-1][2] or is_urgent)
            else:
                groups.append((category, [*pending, clause], is_urgent))
                pending = []
        if len(groups) <= 1:
            # One need at most: the whole sentence decides (clauses may say it together).
            category, is_urgent = _need_of(classifier, sentence)
            if category is None:
                continue
            groups = [(category, [sentence], is_urgent)]
        for category, parts, is_urgent in groups:
            found.setdefault(category, []).append("，".join(parts))
            urgent[category] = urgent.get(category, False) or is_urgent
    return [Need(c, "；".join(texts), urgent[c]) for c, texts in found.items()]


# ---------------------------------------------------------------- households


async def _looks_after(session: AsyncSession, volunteer: User, household_id: int) -> bool:
    link = await session.get(VolunteerHousehold, (volunteer.id, household_id))
    return link is not None


async def can_see_household(session: AsyncSession, actor: User, household: Household) -> bool:
    """Its volunteers and the coordinators of its community; nobody else."""
    if not actor.active or household.id is None:
        return False
    if actor.role == Role.volunteer:
        return await _looks_after(session, actor, household.id)
    if actor.role == Role.coordinator:
        grid = await session.get(Grid, household.grid_id)
        return grid is not None and grid.community_id == actor.community_id
    return False


async def _visible_household(session: AsyncSession, actor: User, household_id: int) -> Household:
    household = await session.get(Household, household_id)
    if household is None or not await can_see_household(session, actor, household):
        # The same answer whether it does not exist or is someone else's.
        raise ServiceError(Refusal.household_unknown)
    return household


def _require_volunteer(actor: User) -> int:
    if actor.role != Role.volunteer or actor.id is None:
        raise ServiceError(Refusal.not_allowed)
    return actor.id


async def my_households(session: AsyncSession, actor: User) -> list[HouseholdDue]:
    """A volunteer's households, longest since the last visit first."""
    return await volunteer_households(session, _require_volunteer(actor))


_ADDRESS_NOISE = re.compile(r"[\s号幢栋座楼单元室#\-－—/、，,.]")
_NUMBERS = re.compile(r"\d+")


def matches_address(query: str, household: Household) -> bool:
    """ "12号101", "悬桥巷12号 101室", "3幢2单元301", "3-2-301" or "3幢301" (building and room)."""
    wanted = _NUMBERS.findall(query)
    if not wanted:
        return False
    key = f"{household.building}{household.unit}{household.room}"
    have = _NUMBERS.findall(key)
    words = _ADDRESS_NOISE.sub("", _NUMBERS.sub("", query))
    if words and words not in _ADDRESS_NOISE.sub("", _NUMBERS.sub("", key)):
        return False
    if [int(n) for n in wanted] == [int(n) for n in have]:
        return True
    return (
        len(wanted) == 2
        and len(have) == 3
        and [int(n) for n in wanted]
        == [
            int(have[0]),
            int(have[2]),
        ]
    )


async def find_households(session: AsyncSession, actor: User, query: str) -> list[HouseholdDue]:
    """The volunteer's households whose building and room match what was typed."""
    query = query.strip().translate({code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)})
    found = [d for d in await my_households(session, actor) if matches_address(query, d.household)]
    if not found:
        raise ServiceError(Refusal.household_not_found)
    return found


async def household_for_visit(session: AsyncSession, actor: User, household_id: int) -> Household:
    """The household a volunteer is about to visit (one of theirs)."""
    _require_volunteer(actor)
    household = await session.get(Household, household_id)
    if household is None or not await _looks_after(session, actor, household_id):
        raise ServiceError(Refusal.not_your_household)
    return household


# ---------------------------------------------------------------- visits


@dataclass(frozen=True)
class VisitSummary:
    visit: Visit
    address: str
    head_name: str
    needs: list[Need]
    editable: bool


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ServiceError(Refusal.text_too_long, limit=MAX_NOTE)
    return note


def _editable(visit: Visit, actor: User, now: datetime) -> bool:
    return visit.volunteer_id == actor.id and now - as_utc(visit.created_at) <= EDIT_WINDOW


async def _summary(
    session: AsyncSession, clock: Clock, classifier: Classifier, actor: User, visit: Visit
) -> VisitSummary:
    household = await session.get(Household, visit.household_id)
    assert household is not None
    filed = {
        t.text: t.number
        for t in await session.exec(select(Ticket).where(col(Ticket.visit_id) == visit.id))
    }
    needs = [
        Need(n.category, n.text, n.urgent, filed.get(n.text))
        for n in find_needs(classifier, visit.note)
    ]
    return VisitSummary(
        visit=visit,
        address=household_address(household),
        head_name=household.head_name,
        needs=needs,
        editable=_editable(visit, actor, clock.now()),
    )


async def record(
    session: AsyncSession,
    clock: Clock,
    classifier: Classifier,
    actor: User,
    household_id: int,
    outcome: VisitOutcome,
    note: str,
    *,
    photo_file_id: str | None = None,
) -> VisitSummary:
    """A visit to one of the volunteer's households; the summary offers the needs found."""
    household = await household_for_visit(session, actor, household_id)
    assert actor.id is not None and household.id is not None
    now = clock.now()
    visit = Visit(
        volunteer_id=actor.id,
        household_id=household.id,
        visited_at=now,
        outcome=VisitOutcome(outcome),
        note=_clean_note(note),
        photo_file_id=photo_file_id,
        created_at=now,
    )
    session.add(visit)
    await session.flush()
    return await _summary(session, clock, classifier, actor, visit)


async def _own_visit(session: AsyncSession, actor: User, visit_id: int) -> Visit:
    visit = await session.get(Visit, visit_id)
    if visit is None or visit.volunteer_id != actor.id:
        raise ServiceError(Refusal.visit_unknown)
    return visit


async def _editable_visit(session: AsyncSession, clock: Clock, actor: User, visit_id: int) -> Visit:
    visit = await _own_visit(session, actor, visit_id)
    if not _editable(visit, actor, clock.now()):
        raise ServiceError(Refusal.visit_too_old, hours=int(EDIT_WINDOW.total_seconds() // 3600))
    return visit


async def summary(
    session: AsyncSession, clock: Clock, classifier: Classifier, actor: User, visit_id: int
) -> VisitSummary:
    return await _summary(
        session, clock, classifier, actor, await _own_visit(session, actor, visit_id)
    )


async def check_editable(session: AsyncSession, clock: Clock, actor: User, visit_id: int) -> Visit:
    """Refuse now, before asking for the new outcome and note, what `correct` would refuse."""
    return await _editable_visit(session, clock, actor, visit_id)


async def correct(
    session: AsyncSession,
    clock: Clock,
    classifier: Classifier,
    actor: User,
    visit_id: int,
    outcome: VisitOutcome,
    note: str | None,
) -> VisitSummary:
    """Its author corrects the outcome and (unless None) the note, within 24 hours."""
    visit = await _editable_visit(session, clock, actor, visit_id)
    visit.outcome = VisitOutcome(outcome)
    if note is not None:
        visit.note = _clean_note(note)
    visit.updated_at = clock.now()
    session.add(visit)
    await session.flush()
    return await _summary(session, clock, classifier, actor, visit)


async def attach_location(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    visit_id: int,
    latitude: float,
    longitude: float,
) -> Visit:
    visit = await _editable_visit(session, clock, actor, visit_id)
    visit.latitude, visit.longitude = latitude, longitude
    session.add(visit)
    await session.flush()
    return visit


async def attach_photo(
    session: AsyncSession, clock: Clock, actor: User, visit_id: int, file_id: str
) -> Visit:
    visit = await _editable_visit(session, clock, actor, visit_id)
    if visit.photo_file_id:
        raise ServiceError(Refusal.visit_has_photo)
    visit.photo_file_id = file_id
    session.add(visit)
    await session.flush()
    return visit


@dataclass(frozen=True)
class NeedFiled:
    ticket: Ticket
    created: bool  # False: this need had been filed already
    summary: VisitSummary


async def file_need(
    session: AsyncSession,
    clock: Clock,
    classifier: Classifier,
    actor: User,
    visit_id: int,
    category: str,
    rules: TicketRules | None = None,
    *,
    followup_rules: followups.FollowUpRules,
) -> NeedFiled:
    """One tap: a need of the visit's note becomes a ticket for the household (once)."""
    visit = await _own_visit(session, actor, visit_id)
    need = next((n for n in find_needs(classifier, visit.note) if n.category == category), None)
    if need is None:
        raise ServiceError(Refusal.visit_unknown)
    existing = (
        await session.exec(
            select(Ticket).where(col(Ticket.visit_id) == visit.id, col(Ticket.text) == need.text)
        )
    ).first()
    created = existing is None
    if existing is None:
        ticket = await tickets.report(
            session,
            clock,
            classifier,
            actor,
            need.text,
            household_id=visit.household_id,
            rules=rules,
            followup_rules=followup_rules,
        )
        ticket.visit_id = visit.id
        session.add(ticket)
        await session.flush()
    else:
        ticket = existing
    return NeedFiled(ticket, created, await _summary(session, clock, classifier, actor, visit))


# ---------------------------------------------------------------- the household card


@dataclass(frozen=True)
class VisitLine:
    at: datetime
    volunteer: str
    outcome: VisitOutcome
    note: str


@dataclass(frozen=True)
class HouseholdCard:
    household: Household
    address: str
    place: str  # community · grid
    phone: str  # masked
    tags: list[str]
    interval_days: int
    last_visit: datetime | None
    overdue: bool
    volunteers: list[str]
    visits: list[VisitLine] = field(default_factory=list)
    open_tickets: list[Ticket] = field(default_factory=list)
    can_visit: bool = False


OPEN_TICKETS = frozenset(tickets.OPEN | {TicketStatus.awaiting_confirmation})


async def household_card(
    session: AsyncSession, clock: Clock, actor: User, household_id: int
) -> HouseholdCard:
    household = await _visible_household(session, actor, household_id)
    grid = await session.get(Grid, household.grid_id)
    assert grid is not None
    place = await describe_place(session, community_id=grid.community_id, grid_id=grid.id)
    visits = list(
        await session.exec(
            select(Visit)
            .where(col(Visit.household_id) == household_id)
            .order_by(col(Visit.visited_at).desc(), col(Visit.id).desc())
            .limit(CARD_VISITS)
        )
    )
    volunteer_rows = list(
        await session.exec(
            select(User)
            .join(VolunteerHousehold, col(VolunteerHousehold.volunteer_id) == col(User.id))
            .where(col(VolunteerHousehold.household_id) == household_id)
            .order_by(col(User.id))
        )
    )
    visitor_ids = {v.volunteer_id for v in visits}
    names = {
        u.id: u.display_name
        for u in await session.exec(select(User).where(col(User.id).in_(visitor_ids)))
    }
    open_tickets = list(
        await session.exec(
            select(Ticket)
            .where(
                col(Ticket.household_id) == household_id,
                col(Ticket.status).in_(OPEN_TICKETS),
            )
            .order_by(col(Ticket.id).desc())
        )
    )
    tags = tags_of(household)
    interval = interval_for(tags)
    last = as_utc(visits[0].visited_at) if visits else None
    return HouseholdCard(
        household=household,
        address=household_address(household),
        place=" · ".join(p for p in (place.community, place.grid) if p),
        phone=mask_phone(household.phone) if household.phone else "",
        tags=tags,
        interval_days=interval.days,
        last_visit=last,
        overdue=last is None or clock.now() - last > interval,
        volunteers=[u.display_name for u in volunteer_rows],
        visits=[
            VisitLine(as_utc(v.visited_at), names.get(v.volunteer_id, ""), v.outcome, v.note)
            for v in visits
        ],
        open_tickets=open_tickets,
        can_visit=actor.role == Role.volunteer,
    )
