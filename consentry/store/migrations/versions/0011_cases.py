"""cases: victims' cases (hashes in the case bank, PIN hashed) and case workers' notes

Revision ID: 0011_cases
Revises: 0010_review
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_cases"
down_revision: str | Sequence[str] | None = "0010_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "victim_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("withdrawn_at", _TS, nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("consent_share", sa.Boolean(), nullable=False),
        sa.Column("consent_at", _TS, nullable=True),
        sa.Column("consent_by", sa.String(length=200), nullable=True),
        sa.Column("consent_how", sa.Text(), nullable=True),
        sa.Column("shared_at", _TS, nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "victim_case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["victim_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_victim_case_notes_case_id", "victim_case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_table("victim_case_notes")
    op.drop_table("victim_cases")
