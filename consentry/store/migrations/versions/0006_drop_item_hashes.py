"""drop item_hashes: written on every scan, read by nothing

Revision ID: 0006_drop_item_hashes
Revises: 0005_consent_method

Every item's hashes (PDQ, each sampled vPDQ frame) are in its stored result
(``items.result``), the documented item JSON; the table kept a second copy, one row per
frame, that no code read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_drop_item_hashes"
down_revision: str | Sequence[str] | None = "0005_consent_method"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_hashes") as batch_op:
        batch_op.drop_index("ix_item_hashes_item_id")
        batch_op.drop_index("ix_item_hashes_hash")
    op.drop_table("item_hashes")


def downgrade() -> None:
    op.create_table(
        "item_hashes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_item_hashes_hash", "item_hashes", ["hash"])
    op.create_index("ix_item_hashes_item_id", "item_hashes", ["item_id"])
