"""review: people's accounts and sessions, claims, review cases and decisions, retained media

Revision ID: 0010_review
Revises: 0009_service
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_review"
down_revision: str | Sequence[str] | None = "0009_service"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _item_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("blur_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("items_seen", sa.JSON(), nullable=False),
        sa.Column("seen_at_break", sa.Integer(), nullable=False),
        sa.Column("revealed", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_review_sessions_reviewer_id", "review_sessions", ["reviewer_id"])
    op.create_table(
        "review_claims",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        _item_fk(),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_table(
        "review_cases",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        _item_fk(),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        _item_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_decisions_item_id", "review_decisions", ["item_id"])
    op.create_table(
        "retained_media",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", _TS, nullable=False),
        sa.Column("delete_after", _TS, nullable=True),
        sa.Column("deleted_at", _TS, nullable=True),
        _item_fk(),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index("ix_retained_media_delete_after", "retained_media", ["delete_after"])


def downgrade() -> None:
    op.drop_table("retained_media")
    op.drop_table("review_decisions")
    op.drop_table("review_cases")
    op.drop_table("review_claims")
    op.drop_table("review_sessions")
    op.drop_table("reviewers")
