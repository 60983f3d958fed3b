"""Issue 6: weekend community events (周末社区), the rules without aiogram."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services import events, followups
from services.clock import SHANGHAI, ManualClock
from services.errors import Refusal, ServiceError
from services.followups import DEFAULT_RULES as FOLLOWUP_RULES
from services.users import get_user
from storage.db import SessionFactory
from storage.models import Audience, CommunityEvent, EventSignup, Outbox, SignupStatus, User

# The test clock: Tuesday 2026-11-24 10:00 in Suzhou. The event: Saturday 14:00-16:00.
SATURDAY_2PM = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SATURDAY_4PM = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


def refused(error: pytest.ExceptionInfo[ServiceError]) -> Refusal:
    return error.value.refusal


async def publish(
    session_factory: SessionFactory,
    clock: ManualClock,
    *,
    capacity: int = 10,
    audience: Audience = Audience.community,
    audience_id: int | None = None,
) -> int:
    async with session_factory() as session:
        zhang = await persona(session, 3001)
        assert zhang.community_id is not None
        draft = events.Draft(
            title="周末亲子手工课",
            starts_at=SATURDAY_2PM,
            ends_at=SATURDAY_4PM,
            place="悬桥社区党群服务中心",
            capacity=capacity,
            audience=audience,
            audience_id=audience_id if audience_id is not None else zhang.community_id,
            description="带孩子一起做灯笼",
        )
        event = await events.save_draft(session, clock, zhang, draft)
        assert event.id is not None
        await events.publish(session, clock, zhang, event.id, followup_rules=FOLLOWUP_RULES)
        await session.commit()
        return event.id


async def call(
    session_factory: SessionFactory, clock: ManualClock, telegram_id: int, name: str, *args: object
) -> object:
    async with session_factory() as session:
        actor = await persona(session, telegram_id)
        # publish and leave tell others: they take the follow-up rules (the quiet hours)
        extra = {"followup_rules": FOLLOWUP_RULES} if name in ("publish", "leave") else {}
        result = await getattr(events, name)(session, clock, actor, *args, **extra)
        await session.commit()
        return result


async def notices(session_factory: SessionFactory, kind: str) -> list[int]:
    async with session_factory() as session:
        rows = await session.exec(
            select(Outbox.chat_id).where(col(Outbox.kind) == kind).order_by(col(Outbox.id))
        )
        return list(rows)


# ---------------------------------------------------------------- the steps


@pytest.mark.parametrize("text", ["2026-11-28 14:00", "11月28日 14:00", "周六下午2点"])
def test_the_start_accepts_the_three_ways_of_writing_it(text: str) -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert events.check_start(text, now, SHANGHAI) == SATURDAY_2PM


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("2026-11-20 14:00", Refusal.event_in_past),
        ("今天上午8点", Refusal.event_in_past),
        ("过几天吧", Refusal.event_time_unreadable),
        ("11月28日", Refusal.event_time_unreadable),  # a date without a time
    ],
)
def test_a_start_in_the_past_or_unreadable_is_refused(text: str, refusal: Refusal) -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    with pytest.raises(ServiceError) as error:
        events.check_start(text, now, SHANGHAI)
    assert refused(error) is refusal


def test_the_end_may_be_just_the_hour_and_must_follow_the_start() -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert events.check_end("16:00", SATURDAY_2PM, now, SHANGHAI) == SATURDAY_4PM
    assert events.check_end("下午4点", SATURDAY_2PM, now, SHANGHAI) == SATURDAY_4PM
    assert events.check_end("11月28日 16:00", SATURDAY_2PM, now, SHANGHAI) == SATURDAY_4PM
    for before in ("2026-11-28 13:00", "2026-11-28 14:00"):
        with pytest.raises(ServiceError) as error:
            events.check_end(before, SATURDAY_2PM, now, SHANGHAI)
        assert refused(error) is Refusal.event_end_before_start


def test_title_capacity_and_place_are_checked() -> None:
    assert events.check_title("  周末  亲子手工课 ") == "周末 亲子手工课"
    for title, refusal in (("", Refusal.empty_text), ("长" * 31, Refusal.event_title_too_long)):
        with pytest.raises(ServiceError) as error:
            events.check_title(title)
        assert refused(error) is refusal
    assert events.check_capacity("30") == 30
    assert events.check_capacity("３０人") == 30
    for bad in ("0", "-3", "三十", "501", ""):
        with pytest.raises(ServiceError) as error:
            events.check_capacity(bad)
        assert refused(error) is Refusal.event_capacity
    with pytest.raises(ServiceError) as error:
        events.check_place("楼" * 61)
    assert refused(error) is Refusal.text_too_long


async def test_only_coordinators_create_and_the_draft_is_checked_again(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        wang, zhang = await persona(session, 1001), await persona(session, 3001)
        assert zhang.community_id is not None
        draft = events.Draft(
            "手工课", SATURDAY_2PM, SATURDAY_4PM, "活动室", 10, Audience.community, 1
        )
        with pytest.raises(ServiceError) as error:
            await events.save_draft(session, clock, wang, draft)
        assert refused(error) is Refusal.not_allowed
        clock.set(SATURDAY_2PM + timedelta(minutes=1))  # the steps were answered long ago
        with pytest.raises(ServiceError) as error:
            await events.save_draft(session, clock, zhang, draft)
        assert refused(error) is Refusal.event_in_past
        clock.set(SATURDAY_2PM - timedelta(days=1))
        other_street = events.Draft(
            "手工课", SATURDAY_2PM, SATURDAY_4PM, "活动室", 10, Audience.street, 999
        )
        with pytest.raises(ServiceError) as error:
            await events.save_draft(session, clock, zhang, other_street)
        assert refused(error) is Refusal.not_allowed
        choices = await events.audience_choices(session, zhang)
        assert [c.audience for c in choices] == [
            Audience.community,
            Audience.grid,
            Audience.grid,
            Audience.grid,
            Audience.street,
        ]


# ---------------------------------------------------------------- the audience


@pytest.mark.parametrize(
    ("audience", "told"),
    [
        (Audience.community, {1001, 1002, 2001, 2002}),
        (Audience.grid, {1001, 2001}),
        (Audience.street, {1001, 1002, 1003, 2001, 2002, 2003}),
    ],
)
async def test_publishing_announces_to_the_audience_only(
    session_factory: SessionFactory, clock: ManualClock, audience: Audience, told: set[int]
) -> None:
    async with session_factory() as session:
        zhang = await persona(session, 3001)
        choice = next(
            c for c in await events.audience_choices(session, zhang) if c.audience == audience
        )
    await publish(session_factory, clock, audience=audience, audience_id=choice.id)
    announced = await notices(session_factory, "event_announce")
    assert set(announced) == told and len(announced) == len(told)
    async with session_factory() as session:
        rows = list(await session.exec(select(Outbox).where(Outbox.kind == "event_announce")))
    assert all(r.priority == 9 for r in rows)
    assert json.loads(rows[0].payload)["title"] == "周末亲子手工课"


async def test_publishing_twice_changes_nothing(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock)
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 3001, "publish", event_id)
    assert refused(error) is Refusal.event_unknown
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 3002, "publish", event_id)  # another community
    assert refused(error) is Refusal.event_unknown
    assert len(await notices(session_factory, "event_announce")) == 4


# ---------------------------------------------------------------- signing up


async def test_a_full_event_has_a_waiting_list_and_a_cancellation_moves_the_first_in(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock, capacity=1)
    wang = await call(session_factory, clock, 1001, "join", event_id)
    assert isinstance(wang, events.SignupResult) and wang.status == SignupStatus.attending
    clock.advance(timedelta(minutes=1))
    li = await call(session_factory, clock, 1002, "join", event_id)
    assert isinstance(li, events.SignupResult)
    assert (li.status, li.position) == (SignupStatus.waiting, 1)
    clock.advance(timedelta(minutes=1))
    xiaoli = await call(session_factory, clock, 2001, "join", event_id)
    assert isinstance(xiaoli, events.SignupResult) and xiaoli.position == 2
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1002, "join", event_id)
    assert refused(error) is Refusal.event_already_joined

    left = await call(session_factory, clock, 1001, "leave", event_id)
    assert isinstance(left, events.CancelResult)
    assert left.promoted is not None and left.promoted.telegram_id == 1002
    assert await notices(session_factory, "event_promoted") == [1002]
    async with session_factory() as session:
        statuses = dict(
            (
                await session.exec(
                    select(EventSignup.user_id, EventSignup.status).where(
                        EventSignup.event_id == event_id
                    )
                )
            ).all()
        )
        ids = {u: (await persona(session, u)).id or 0 for u in (1001, 1002, 2001)}
    assert statuses[ids[1001]] == SignupStatus.cancelled
    assert statuses[ids[1002]] == SignupStatus.attending
    assert statuses[ids[2001]] == SignupStatus.waiting
    # Leaving the waiting list moves nobody.
    await call(session_factory, clock, 2001, "leave", event_id)
    assert await notices(session_factory, "event_promoted") == [1002]
    # Re-joining goes to the end of the line.
    again = await call(session_factory, clock, 1001, "join", event_id)
    assert isinstance(again, events.SignupResult) and again.position == 1


async def test_outsiders_and_latecomers_cannot_sign_up(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock)
    for outsider, refusal in ((1003, Refusal.event_unknown), (3001, Refusal.not_allowed)):
        with pytest.raises(ServiceError) as error:
            await call(session_factory, clock, outsider, "join", event_id)
        assert refused(error) is refusal
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1001, "leave", event_id)
    assert refused(error) is Refusal.event_not_joined
    clock.set(SATURDAY_2PM)
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1001, "join", event_id)
    assert refused(error) is Refusal.event_started


# ---------------------------------------------------------------- reminders, check-in, rating


async def test_reminders_go_to_those_attending_24_and_2_hours_before(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock, capacity=1)
    await call(session_factory, clock, 1001, "join", event_id)
    await call(session_factory, clock, 1002, "join", event_id)  # waiting
    async with session_factory() as session:
        due = sorted(
            r.due_at for r in await followups.pending(session, followups.Kind.event_remind)
        )
    assert due == [SATURDAY_2PM - timedelta(hours=24), SATURDAY_2PM - timedelta(hours=2)]
    clock.set(SATURDAY_2PM - timedelta(hours=24, minutes=1))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_reminder") == []
    clock.set(SATURDAY_2PM - timedelta(hours=24))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_reminder") == [1001]
    clock.set(SATURDAY_2PM - timedelta(hours=2))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_reminder") == [1001, 1001]


async def test_an_event_published_hours_before_gets_no_next_day_reminder(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    clock.set(SATURDAY_2PM - timedelta(hours=5))
    await publish(session_factory, clock)
    async with session_factory() as session:
        due = [r.due_at for r in await followups.pending(session, followups.Kind.event_remind)]
    assert due == [SATURDAY_2PM - timedelta(hours=2)]


async def test_check_in_with_the_one_time_code_then_rate_the_day_after(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock)
    await call(session_factory, clock, 1001, "join", event_id)
    await call(session_factory, clock, 1002, "join", event_id)
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 3001, "open_checkin", event_id)
    assert refused(error) is Refusal.checkin_nothing_running

    clock.set(SATURDAY_2PM - timedelta(minutes=30))
    event = await call(session_factory, clock, 3001, "open_checkin", event_id)
    assert isinstance(event, CommunityEvent) and event.checkin_code is not None
    code = event.checkin_code
    assert len(code) == 6 and code.isdigit()
    same = await call(session_factory, clock, 3001, "open_checkin", event_id)
    assert isinstance(same, CommunityEvent) and same.checkin_code == code, "one code per event"

    wrong = "000000" if code != "000000" else "111111"
    cases = ((1001, wrong, Refusal.checkin_code_wrong), (2002, code, Refusal.checkin_not_attending))
    for who, text, refusal in cases:
        with pytest.raises(ServiceError) as error:
            await call(session_factory, clock, who, "check_in", text)
        assert refused(error) is refusal
    checked = await call(session_factory, clock, 1001, "check_in", f" {code} ")
    assert isinstance(checked, CommunityEvent) and checked.id == event_id
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1001, "check_in", code)
    assert refused(error) is Refusal.checkin_already
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1001, "rate", event_id, 5)
    assert refused(error) is Refusal.event_rating_closed  # not over yet

    # After the end the code no longer works.
    clock.set(SATURDAY_4PM)
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1002, "check_in", code)
    assert refused(error) is Refusal.checkin_code_wrong

    # The day after at 10:00: only those who came are asked.
    clock.set(datetime(2026, 11, 29, 2, 0, tzinfo=UTC))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_rate_ask") == [1001]
    await call(session_factory, clock, 1001, "rate", event_id, 5)
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1001, "rate", event_id, 4)
    assert refused(error) is Refusal.event_already_rated
    with pytest.raises(ServiceError) as error:
        await call(session_factory, clock, 1002, "rate", event_id, 1)  # did not come
    assert refused(error) is Refusal.event_rating_closed
    async with session_factory() as session:
        wang = await persona(session, 1001)
        signup = (
            await session.exec(
                select(EventSignup).where(
                    EventSignup.event_id == event_id, EventSignup.user_id == wang.id
                )
            )
        ).one()
    assert signup.rating == 5 and signup.checked_in_at == SATURDAY_2PM - timedelta(minutes=30)


async def test_the_friday_digest_goes_to_subscribers_with_events_for_them(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    event_id = await publish(session_factory, clock)
    for who in (1001, 1003):
        assert await call(session_factory, clock, who, "subscribe") is True
    assert await call(session_factory, clock, 1001, "subscribe") is False
    friday_6pm = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    clock.set(friday_6pm - timedelta(minutes=1))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_digest") == []
    clock.set(friday_6pm)
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert await notices(session_factory, "event_digest") == [1001]  # 赵奶奶: none for her
    async with session_factory() as session:
        row = (await session.exec(select(Outbox).where(Outbox.kind == "event_digest"))).one()
        [listed] = json.loads(row.payload)["events"]
        assert (listed["event_id"], listed["left"]) == (event_id, 10)
        [following] = await followups.pending(session, followups.Kind.event_digest)
    assert following.due_at == friday_6pm + timedelta(days=7)
    async with session_factory() as session:
        wang = await persona(session, 1001)
        assert await events.unsubscribe(session, wang) is True
        assert await events.unsubscribe(session, wang) is False
