"""disclosure scorecards of releases

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scorecard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("dimensions", JSON, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("scorecard", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scorecard_author"), ["author"], unique=False)
        batch_op.create_index(batch_op.f("ix_scorecard_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scorecard", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scorecard_source_id"))
        batch_op.drop_index(batch_op.f("ix_scorecard_author"))
    op.drop_table("scorecard")
