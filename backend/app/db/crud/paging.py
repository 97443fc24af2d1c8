"""Keyset paging: a page starts after the last row of the one before it, in an order by a time
and then the id (both descending), so that rows added meanwhile never shift a page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

Row = TypeVar("Row")


def newest_page(
    session: Session,
    query: Select[Row],
    time: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[Row], bool]:
    """Up to `limit` rows of `query`, newest `time` first (then the greatest id), from just
    after the row whose time and id are `after`; and whether more follow."""
    if after is not None:
        cursor_time, cursor_id = after
        query = query.where(or_(time < cursor_time, and_(time == cursor_time, row_id < cursor_id)))
    result = session.execute(query.order_by(time.desc(), row_id.desc()).limit(limit + 1))
    rows = list(result.scalars().all())
    return rows[:limit], len(rows) > limit
