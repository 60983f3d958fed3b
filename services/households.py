"""Households as volunteers see them."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.org import household_address
from storage.models import Household, User, VolunteerHousehold


async def household_choices(session: AsyncSession, volunteer: User) -> list[tuple[int, str]]:
    """(id, "address 户主") of the households a volunteer looks after."""
    rows = await session.exec(
        select(Household)
        .join(VolunteerHousehold, col(VolunteerHousehold.household_id) == col(Household.id))
        .where(col(VolunteerHousehold.volunteer_id) == volunteer.id)
        .order_by(col(Household.building), col(Household.unit), col(Household.room))
    )
    return [(h.id, f"{household_address(h)} {h.head_name}") for h in rows if h.id is not None]
