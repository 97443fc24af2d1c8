"""Keyset paging: a page starts after the last row of the one before it, in an order by a time
and then the id (both descending), so that rows added meanwhile never shift a page."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute


def listed_after(
    time: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    cursor_time: datetime,
    cursor_id: uuid.UUID,
) -> ColumnElement[bool]:
    """Rows that come after the cursor's row in the order (time desc, id desc)."""
    return or_(time < cursor_time, and_(time == cursor_time, row_id < cursor_id))
