"""Answer versions and edited messages: messages.chosen and messages.version_of_id

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:10:00

A regenerated answer is another assistant message replying to the same user message; an edited
message is another user message whose `version_of_id` names the first version of its group.
`chosen` marks the version shown and given to the model (one per group).

Both columns are added in place (SQLite's ALTER TABLE ADD/DROP COLUMN, no table copy), so the
search triggers of 0004 on `messages` stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("chosen", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("messages", sa.Column("version_of_id", sa.Uuid(), nullable=True))
    op.create_index("ix_messages_version_of_id", "messages", ["version_of_id"])


def downgrade() -> None:
    # Earlier versions are removed with the columns that tell them apart: the schema before
    # this one shows one answer per question and no edited messages.
    op.execute(
        "DELETE FROM messages WHERE chosen = false OR reply_to_id IN "
        "(SELECT id FROM messages WHERE chosen = false)"
    )
    op.drop_index("ix_messages_version_of_id", table_name="messages")
    op.drop_column("messages", "version_of_id")
    op.drop_column("messages", "chosen")
