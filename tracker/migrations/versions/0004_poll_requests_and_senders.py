"""poll requests, deferrals, last outcome; one sender per subscription

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("poll_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_outcome", JSON, nullable=True))
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sender_token", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("sender_token")
        batch_op.drop_column("sending_until")
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("last_outcome")
        batch_op.drop_column("poll_requested_at")
        batch_op.drop_column("deferrals")
