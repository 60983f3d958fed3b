"""A district-sized demo data set (`haitang seed-demo --scale district`): 169 communities,
1,234 grids, 100,000 households, 1,000,000 visits and 200,000 tickets with their histories,
over the year before `now`, for trying the figures (issue 8) at the size of Gusu District.

It comes on top of the small demo district (services.demo), whose two streets it reuses by name,
and adds its own communities (station codes gs001…), grids, households, people (a coordinator
per community, an admin per street, one for the district, about one volunteer per ten
households, residents for a fifth of the households), visits, tickets, their audit trail and
the tasks of dispatched tickets. Everything comes from a fixed random seed.

Rows are written with SQLAlchemy Core executemany of plain dicts in large batches, with the
primary keys assigned here (no RETURNING round trips), and `PRAGMA synchronous=OFF` during the
load on SQLite. `fraction` scales every count down (the tests use 1/100).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from nlp.taxonomy import CATEGORY_CODES
from services.cadence import DEFAULT_INTERVAL, interval_for
from services.clock import SHANGHAI, as_utc
from services.demo import _GIVEN_NAMES, _SURNAMES, _tags
from services.tickets import ACKNOWLEDGING, Action
from storage.db import make_engine
from storage.models import (
    Rating,
    Role,
    TaskStatus,
    TicketStatus,
    VisitOutcome,
)

SEED = 20261108
STATION_PREFIX = "gs"
BATCH = 20_000
YEAR = timedelta(days=365)
STREET_NAMES = (
    "平江街道",
    "双塔街道",
    "金阊街道",
    "沧浪街道",
    "吴门桥街道",
    "苏锦街道",
    "虎丘街道",
    "白洋湾街道",
)
_PLACE_NAMES = (
    "桃花坞 山塘 石路 彩香 三香 南环 胥江 盘溪 吴门 葑门 娄门 相门 齐门 阊门 胥门 盘门 干将 十全 "
    "道前 养育 察院 观前 临顿 北寺 拙政 狮林 白塔 桐芳 颜家 莫邪 梅巷 虎阜 西园 留园 枫桥 白莲 "
    "新庄 彩云 金门 渡僧 万年 尚义 朱家园 杨枝塘 南门 觅渡 沧浪亭 文庙 瓣莲 网师 带城 锦帆 乌鹊 "
    "平门 北园 东园 苏纶 长船湾 虎丘"
)
_SUFFIXES = ("", "东", "西", "南", "北", "新村")

# Need categories: how common each is, and how often one is urgent.
_CATEGORY_WEIGHTS = {
    "property": 14,
    "facilities": 18,
    "sanitation": 12,
    "safety": 6,
    "elderly": 10,
    "health": 6,
    "hardship": 3,
    "dispute": 5,
    "noise": 6,
    "parking": 6,
    "order": 4,
    "legal": 2,
    "employment": 1,
    "activity": 2,
    "mental": 1,
    "affairs": 4,
    "other": 2,
}
_URGENT_SHARE = {"safety": 0.4, "health": 0.25, "elderly": 0.1}
_SAMPLE_TEXTS = {
    "property": "物业不管小区垃圾清运",
    "facilities": "楼道灯坏了，晚上看不清",
    "sanitation": "垃圾桶满了没人清理",
    "safety": "有人把电动车推进楼道充电",
    "elderly": "独居老人需要助餐服务",
    "health": "想预约家庭医生上门",
    "hardship": "家里困难，想申请补助",
    "dispute": "楼上漏水到我家，协商不成",
    "noise": "楼下广场舞太吵",
    "parking": "小区门口车乱停，救护车进不来",
    "order": "路边占道经营",
    "legal": "想咨询遗产继承",
    "employment": "想找份附近的工作",
    "activity": "想报名社区合唱团",
    "mental": "老伴走后心情一直不好",
    "affairs": "怎么办理居住证",
    "other": "想给社区提个建议",
}
_OUTCOMES = (
    (VisitOutcome.met_resident, 70),
    (VisitOutcome.met_family, 15),
    (VisitOutcome.not_home, 12),
    (VisitOutcome.refused, 3),
)

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stages "org", "people", "visits", "tickets"."""


@dataclass(frozen=True)
class DistrictSize:
    communities: int = 169
    grids: int = 1_234
    households: int = 100_000
    visits: int = 1_000_000
    tickets: int = 200_000

    def scaled(self, fraction: float) -> DistrictSize:
        if not 0 < fraction <= 10:
            raise ValueError("fraction must be in (0, 10]")
        communities = max(1, round(self.communities * fraction))
        grids = max(communities, round(self.grids * fraction))
        households = max(grids, round(self.households * fraction))
        return DistrictSize(
            communities=communities,
            grids=grids,
            households=households,
            visits=round(self.visits * fraction),
            tickets=round(self.tickets * fraction),
        )


@dataclass
class DistrictReport:
    """Rows created, by table; `already` when the data set was there before."""

    created: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    already: bool = False


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


@dataclass
class _Grid:
    id: int
    community: int  # index into the communities list
    households: list[int] = field(default_factory=list)  # household ids
    volunteers: list[int] = field(default_factory=list)  # user ids


@dataclass
class _Community:
    id: int
    street_id: int
    coordinator: int = 0
    grids: list[int] = field(default_factory=list)  # indices into the grids list


class _Loader:
    def __init__(
        self,
        conn: AsyncConnection,
        now: datetime,
        size: DistrictSize,
        rng: random.Random,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.now = as_utc(now)
        self.size = size
        self.rng = rng
        self.progress = progress
        self.report = DistrictReport()
        self.next_ids: dict[str, int] = {}

    async def _max(self, table: str, column: str = "id") -> int:
        value = (await self.conn.execute(select(func.max(_table(table).c[column])))).scalar()
        return int(value or 0)

    async def _ids(self, table: str) -> None:
        self.next_ids[table] = await self._max(table) + 1

    def _take(self, table: str, count: int = 1) -> int:
        first = self.next_ids[table]
        self.next_ids[table] = first + count
        return first

    async def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(insert(_table(table)), rows)
            self.report.created[table] = self.report.created.get(table, 0) + len(rows)

    def _name(self) -> str:
        surname = self.rng.choice(_SURNAMES)
        given = self.rng.choice(_GIVEN_NAMES)
        return surname + given

    # ------------------------------------------------------------------------- organisation

    async def organisation(self) -> None:
        size, rng = self.size, self.rng
        for table in ("street", "community", "grid", "household", "app_user"):
            await self._ids(table)
        streets_wanted = STREET_NAMES[: min(len(STREET_NAMES), size.communities)]
        existing = {
            name: int(sid)
            for sid, name in await self.conn.execute(
                select(_table("street").c.id, _table("street").c.name)
            )
        }
        street_rows = []
        self.street_ids: list[int] = []
        for name in streets_wanted:
            if name not in existing:
                existing[name] = self._take("street")
                street_rows.append({"id": existing[name], "name": name})
            self.street_ids.append(existing[name])
        await self._insert("street", street_rows)

        names = [p + s for s in _SUFFIXES for p in _PLACE_NAMES.split()]
        self.communities: list[_Community] = []
        community_rows = []
        for i in range(size.communities):
            community = _Community(
                self._take("community"), self.street_ids[i % len(streets_wanted)]
            )
            self.communities.append(community)
            community_rows.append(
                {
                    "id": community.id,
                    "street_id": community.street_id,
                    "name": f"{names[i % len(names)]}{'' if i < len(names) else i}社区",
                    "station_code": f"{STATION_PREFIX}{i + 1:03d}",
                }
            )
        await self._insert("community", community_rows)

        self.grids: list[_Grid] = []
        grid_rows = []
        for ci, count in enumerate(_split(size.grids, size.communities)):
            for number in range(1, count + 1):
                grid = _Grid(self._take("grid"), ci)
                self.communities[ci].grids.append(len(self.grids))
                self.grids.append(grid)
                grid_rows.append(
                    {
                        "id": grid.id,
                        "community_id": self.communities[ci].id,
                        "number": number,
                        "name": f"第{number}网格",
                    }
                )
        await self._insert("grid", grid_rows)
        self.progress("org", 1, 2)

        # Households: numbered buildings of six floors, two units, two rooms a floor.
        self.household_grid: list[int] = []  # household index → grid index
        self.household_ids: list[int] = []
        self.household_weight: list[float] = []
        rows: list[dict[str, Any]] = []
        first = self._take("household", size.households)
        n = 0
        for gi, count in enumerate(_split(size.households, size.grids)):
            grid = self.grids[gi]
            for k in range(count):
                hid = first + n
                tags = _tags(rng)
                interval = interval_for(t for t in tags.split(";") if t)
                rows.append(
                    {
                        "id": hid,
                        "grid_id": grid.id,
                        "building": f"{k // 24 + 1}幢",
                        "unit": f"{k // 12 % 2 + 1}单元",
                        "room": f"{k % 12 // 2 + 1}0{k % 2 + 1}",
                        "head_name": self._name(),
                        "phone": f"139{rng.randrange(10**8):08d}",
                        "tags": tags,
                        "latitude": round(31.30 + rng.uniform(0, 0.05), 6),
                        "longitude": round(120.58 + rng.uniform(0, 0.08), 6),
                    }
                )
                grid.households.append(hid)
                self.household_grid.append(gi)
                self.household_ids.append(hid)
                # How often it is visited: the cadence of its tags, and how keen its volunteer is.
                self.household_weight.append(DEFAULT_INTERVAL / interval * rng.uniform(0.4, 1.4))
                n += 1
        for batch in _batches(rows):
            await self._insert("household", batch)
        self.progress("org", 2, 2)

    # ------------------------------------------------------------------------------- people

    async def people(self) -> None:
        rng, now = self.rng, self.now
        base = max(await self._max("app_user", "telegram_id"), 8_000_000_000) + 1
        joined = now - YEAR - timedelta(days=30)
        rows: list[dict[str, Any]] = []
        assignments: list[dict[str, Any]] = []

        def person(role: Role, street: int | None, **scope: Any) -> int:
            uid = self._take("app_user")
            rows.append(
                {
                    "id": uid,
                    "telegram_id": base + len(rows),
                    "chat_id": base + len(rows),
                    "display_name": self._name(),
                    "role": role,
                    "street_id": street,
                    "community_id": scope.get("community_id"),
                    "grid_id": scope.get("grid_id"),
                    "household_id": scope.get("household_id"),
                    "phone": "",
                    "consent_at": joined,
                    "active": True,
                    "reachable": True,
                    "created_at": joined,
                }
            )
            return uid

        person(Role.admin, None)
        self.street_admin = {sid: person(Role.admin, sid) for sid in self.street_ids}
        for community in self.communities:
            community.coordinator = person(
                Role.coordinator, community.street_id, community_id=community.id
            )
        self.resident_of: dict[int, int] = {}  # household index → resident user id
        for grid in self.grids:
            community = self.communities[grid.community]
            for start in range(0, len(grid.households), 10):
                uid = person(
                    Role.volunteer, community.street_id, community_id=community.id, grid_id=grid.id
                )
                grid.volunteers.append(uid)
                for hid in grid.households[start : start + 10]:
                    assignments.append(
                        {"volunteer_id": uid, "household_id": hid, "assigned_at": joined}
                    )
        for index, hid in enumerate(self.household_ids):
            if rng.random() < 0.2:
                grid = self.grids[self.household_grid[index]]
                community = self.communities[grid.community]
                self.resident_of[index] = person(
                    Role.resident,
                    community.street_id,
                    community_id=community.id,
                    grid_id=grid.id,
                    household_id=hid,
                )
        total = len(rows) + len(assignments)
        done = 0
        for table, items in (("app_user", rows), ("volunteer_household", assignments)):
            for batch in _batches(items):
                await self._insert(table, batch)
                done += len(batch)
                self.progress("people", done, total)

    # ------------------------------------------------------------------------------- visits

    async def visits(self) -> None:
        rng, now, total = self.rng, self.now, self.size.visits
        await self._ids("visit")
        cum = list(accumulate(self.household_weight))
        # More visits lately (the programme grows): time back from now ~ YEAR · u^1.3.
        seconds = YEAR.total_seconds()
        picks = sorted(
            (seconds * rng.random() ** 1.3, h)
            for h in rng.choices(range(len(cum)), cum_weights=cum, k=total)
        )
        picks.reverse()  # oldest first, so ids follow time
        outcomes = [o for o, _ in _OUTCOMES]
        weights = [w for _, w in _OUTCOMES]
        volunteer_at = self._volunteer_positions()
        first = self._take("visit", total)
        done = 0
        for start in range(0, total, BATCH):
            chunk = picks[start : start + BATCH]
            drawn = rng.choices(outcomes, weights=weights, k=len(chunk))
            rows = []
            for k, ((back, h), outcome) in enumerate(zip(chunk, drawn, strict=True)):
                at = now - timedelta(seconds=back)
                rows.append(
                    {
                        "id": first + start + k,
                        "volunteer_id": volunteer_at[h],
                        "household_id": self.household_ids[h],
                        "visited_at": at,
                        "outcome": outcome,
                        "note": "",
                        "latitude": None,
                        "longitude": None,
                        "photo_file_id": None,
                        "created_at": at,
                        "updated_at": None,
                    }
                )
            await self._insert("visit", rows)
            done += len(rows)
            self.progress("visits", done, total)

    def _volunteer_positions(self) -> list[int]:
        """household index → the volunteer who looks after it."""
        result = [0] * len(self.household_ids)
        offset = 0
        for grid in self.grids:
            for k in range(len(grid.households)):
                result[offset + k] = grid.volunteers[k // 10]
            offset += len(grid.households)
        return result

    # ------------------------------------------------------------------------------ tickets

    async def tickets(self) -> None:
        rng, now, total = self.rng, self.now, self.size.tickets
        for table in ("ticket", "ticket_event", "task"):
            await self._ids(table)
        numbers: dict[str, int] = {}
        for (number,) in await self.conn.execute(select(_table("ticket").c.number)):
            prefix, _, seq = str(number).rpartition("-")
            if seq.isdigit():
                numbers[prefix] = max(numbers.get(prefix, 0), int(seq))
        seconds = YEAR.total_seconds()
        created = sorted(
            now - timedelta(seconds=seconds * rng.random() ** 1.2) for _ in range(total)
        )
        categories = list(_CATEGORY_WEIGHTS)
        cweights = [_CATEGORY_WEIGHTS[c] for c in categories]
        assert set(categories) == set(CATEGORY_CODES)
        volunteer_at = self._volunteer_positions()
        last_in_community: dict[int, int] = {}
        done = 0
        for start in range(0, total, BATCH // 4):
            tickets: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            tasks: list[dict[str, Any]] = []
            for moment in created[start : start + BATCH // 4]:
                h = rng.randrange(len(self.household_ids))
                grid = self.grids[self.household_grid[h]]
                community = self.communities[grid.community]
                category = rng.choices(categories, weights=cweights)[0]
                urgent = rng.random() < _URGENT_SHARE.get(category, 0.03)
                resident = self.resident_of.get(h)
                volunteer = volunteer_at[h]
                reporter = resident if resident and rng.random() < 0.7 else volunteer
                prefix = "GS" + moment.astimezone(SHANGHAI).strftime("%Y%m%d")
                numbers[prefix] = numbers.get(prefix, 0) + 1
                tid = self._take("ticket")
                ticket: dict[str, Any] = {
                    "id": tid,
                    "number": f"{prefix}-{numbers[prefix]:04d}",
                    "reporter_id": reporter,
                    "resident_id": resident,
                    "household_id": self.household_ids[h],
                    "street_id": community.street_id,
                    "community_id": community.id,
                    "grid_id": grid.id,
                    "text": _SAMPLE_TEXTS[category],
                    "category": category,
                    "urgent": urgent,
                    "confidence": round(rng.uniform(0.5, 0.99), 2),
                    "keywords": "",
                    "urgent_cue": "",
                    "status": TicketStatus.new,
                    "supervised": False,
                    "assignee_id": None,
                    "merged_into_id": None,
                    "visit_id": None,
                    "latitude": None,
                    "longitude": None,
                    "resolution_note": "",
                    "rating": None,
                    "rating_comment": "",
                    "created_at": moment,
                    "respond_by": moment + timedelta(hours=2 if urgent else 24),
                    "acknowledged_at": None,
                    "resolved_at": None,
                    "closed_at": None,
                    "rated_at": None,
                }
                life = _Life(self, ticket, events, tasks)
                life.run(
                    coordinator=community.coordinator,
                    admin=self.street_admin[community.street_id],
                    volunteer=volunteer,
                    confirmer=resident or reporter,
                    earlier=last_in_community.get(community.id),
                )
                last_in_community[community.id] = tid
                tickets.append(ticket)
            await self._insert("ticket", tickets)
            for batch in _batches(events, BATCH * 2):
                await self._insert("ticket_event", batch)
            await self._insert("task", tasks)
            done += len(tickets)
            self.progress("tickets", done, total)


class _Stop(Exception):
    """The next step of a ticket's life lies after `now`."""


class _Life:
    """One ticket's way from report to the resident's confirmation, cut off at `now`."""

    def __init__(
        self,
        loader: _Loader,
        ticket: dict[str, Any],
        events: list[dict[str, Any]],
        tasks: list[dict[str, Any]],
    ) -> None:
        self.loader = loader
        self.rng = loader.rng
        self.now = loader.now
        self.ticket = ticket
        self.events = events
        self.tasks = tasks
        self.at: datetime = ticket["created_at"]
        self.task: dict[str, Any] | None = None

    def move(
        self, action: Action, to: TicketStatus | None, after: timedelta, actor: int | None
    ) -> None:
        at = self.at + after
        if at > self.now:
            raise _Stop
        self.at = at
        before = self.ticket["status"]
        if to is not None:
            self.ticket["status"] = to
        if action in ACKNOWLEDGING and self.ticket["acknowledged_at"] is None:
            self.ticket["acknowledged_at"] = at
        self.events.append(
            {
                "id": self.loader._take("ticket_event"),
                "ticket_id": self.ticket["id"],
                "at": at,
                "actor_id": actor,
                "action": action.value,
                "from_status": before if action != Action.report else None,
                "to_status": to if to is not None and to != before else None,
                "note": "",
            }
        )

    def _hours(self, median: float, sigma: float = 0.9) -> timedelta:
        return timedelta(hours=self.rng.lognormvariate(math.log(median), sigma))

    def _response(self) -> timedelta:
        target = 2.0 if self.ticket["urgent"] else 24.0
        share = (
            self.rng.uniform(0.02, 0.95) if self.rng.random() < 0.86 else self.rng.uniform(1.05, 3)
        )
        return timedelta(hours=target * share)

    def run(
        self, *, coordinator: int, admin: int, volunteer: int, confirmer: int, earlier: int | None
    ) -> None:
        with contextlib.suppress(_Stop):
            self._run(coordinator, admin, volunteer, confirmer, earlier)
        if self.task is not None:
            if self.ticket["status"] == TicketStatus.closed and self.task["done_at"] is not None:
                self.task["status"] = TaskStatus.confirmed
                self.task["confirmed_at"] = self.ticket["closed_at"]
            self.tasks.append(self.task)

    def _run(
        self, coordinator: int, admin: int, volunteer: int, confirmer: int, earlier: int | None
    ) -> None:
        S, t, rng = TicketStatus, self.ticket, self.rng
        self.move(Action.report, S.new, timedelta(0), t["reporter_id"])
        roll = rng.random()
        if roll < 0.03:
            self.move(Action.refuse, S.rejected, self._response(), coordinator)
            t["closed_at"] = self.at
            return
        if roll < 0.06 and earlier is not None:
            self.move(Action.merge, S.duplicate, self._response(), coordinator)
            t["merged_into_id"], t["closed_at"] = earlier, self.at
            return
        if roll < 0.10:
            self.move(Action.escalate, S.escalated, self._response(), coordinator)
            self.move(Action.accept, S.accepted, self._hours(6), admin)
        else:
            self.move(Action.accept, S.accepted, self._response(), coordinator)
        first_round = True
        while True:
            self._handle(coordinator, volunteer, dispatch=first_round and rng.random() < 0.6)
            answer = rng.random()
            if answer < 0.15 and first_round:  # nobody answers: closed after 7 days
                self.move(Action.timeout_close, S.closed, timedelta(days=7), None)
                t["closed_at"] = self.at
                return
            if answer < 0.27 and first_round:  # 未解决
                self.move(Action.unresolved, S.reopened, self._hours(8), confirmer)
                t["supervised"] = True
                self.move(Action.accept, S.accepted, self._hours(3), coordinator)
                first_round = False
                continue
            self.move(Action.confirm, S.closed, self._hours(6), confirmer)
            t["closed_at"] = self.at
            if t["rated_at"] is not None or rng.random() < 0.15:
                return
            rating = rng.choices(
                (Rating.satisfied, Rating.basically, Rating.dissatisfied), weights=(64, 24, 12)
            )[0]
            self.move(Action.rate, None, timedelta(minutes=rng.uniform(1, 30)), confirmer)
            t["rating"], t["rated_at"] = rating, self.at
            if rating != Rating.dissatisfied:
                return
            self.move(Action.reopen, S.reopened, timedelta(seconds=1), confirmer)
            t["supervised"], t["closed_at"] = True, None
            self.move(Action.accept, S.accepted, self._hours(3), coordinator)
            first_round = False

    def _handle(self, coordinator: int, volunteer: int, *, dispatch: bool) -> None:
        S, t = TicketStatus, self.ticket
        if dispatch:
            self.move(Action.dispatch, S.dispatched, self._hours(1), coordinator)
            t["assignee_id"] = volunteer
            self.task = {
                "id": self.loader._take("task"),
                "community_id": t["community_id"],
                "grid_id": t["grid_id"],
                "ticket_id": t["id"],
                "text": t["text"],
                "due_at": None,
                "status": TaskStatus.open,
                "assignee_id": volunteer,
                "created_by": coordinator,
                "created_at": self.at,
                "taken_at": None,
                "done_at": None,
                "confirmed_at": None,
                "result_note": "",
                "result_photo_file_id": None,
            }
            self.move(Action.take, S.in_progress, self._hours(2), volunteer)
            self.task["status"], self.task["taken_at"] = TaskStatus.taken, self.at
        handler = volunteer if t["assignee_id"] == volunteer else coordinator
        self.move(Action.resolve, S.awaiting_confirmation, self._hours(20), handler)
        t["resolved_at"] = self.at
        if self.task is not None and self.task["done_at"] is None:
            self.task["status"], self.task["done_at"] = TaskStatus.done, self.at


async def seed_district(
    database_url: str,
    now: datetime,
    *,
    fraction: float = 1.0,
    seed: int = SEED,
    progress: Progress | None = None,
) -> DistrictReport:
    """Add the district-sized data set to a migrated database (the small demo district first,
    see bot.database.prepare_database). Does nothing if it is there already."""
    size = DistrictSize().scaled(fraction)
    started = time.perf_counter()
    engine = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        async with engine.connect() as conn:
            if sqlite:
                await conn.execute(text("PRAGMA synchronous=OFF"))
                await conn.execute(text("PRAGMA journal_mode=WAL"))
                await conn.execute(text("PRAGMA cache_size=-200000"))
                await conn.commit()
            station = _table("community").c.station_code
            present = await conn.execute(
                select(func.count()).where(station == f"{STATION_PREFIX}001")
            )
            if present.scalar():
                return DistrictReport(already=True)
            loader = _Loader(conn, now, size, random.Random(seed), progress or _quiet)
            await loader.organisation()
            await loader.people()
            await conn.commit()
            await loader.visits()
            await conn.commit()
            await loader.tickets()
            await conn.commit()
            if sqlite:
                await conn.execute(text("PRAGMA synchronous=FULL"))
                await conn.commit()
    finally:
        await engine.dispose()
    loader.report.seconds = time.perf_counter() - started
    return loader.report


def _quiet(stage: str, done: int, total: int) -> None:
    return None
