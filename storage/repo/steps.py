"""Taking a step once: a deadline's step (a reminder, a breach, an escalation) is claimed by a
conditional UPDATE, so a restart or a second process never takes it twice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession


async def claim_step(
    db: AsyncSession,
    model: type[SQLModel],
    row_id: int | None,
    values: Mapping[str, Any],
    *still: ColumnElement[bool],
    synchronize: bool = True,
) -> bool:
    """Set `values` on the row `row_id` of `model` only while every condition in `still` holds
    (the step not taken yet, the request still open…); True when this call took it.
    `synchronize=False`: the session's loaded objects are left as they are."""
    row = col(model.id) == row_id  # type: ignore[attr-defined]
    statement = update(model).where(row, *still).values(dict(values))
    if not synchronize:
        statement = statement.execution_options(synchronize_session=False)
    result = await db.exec(statement)
    return bool(result.rowcount)
