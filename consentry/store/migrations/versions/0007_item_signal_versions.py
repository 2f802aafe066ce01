"""items.signal_versions: which signal versions produced an item, for --skip-known

Revision ID: 0007_item_signal_versions
Revises: 0006_drop_item_hashes

``name=version,...`` of every signal that produced the item's result without error (NULL for
items with errors), indexed with the SHA-256, so a rescan can find a file already analysed by
exactly the same signal versions without reading every stored result.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_item_signal_versions"
down_revision: str | Sequence[str] | None = "0006_drop_item_hashes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch_op:
        batch_op.add_column(sa.Column("signal_versions", sa.String(length=400), nullable=True))
        batch_op.create_index("ix_items_sha256_versions", ["sha256", "signal_versions"])


def downgrade() -> None:
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_index("ix_items_sha256_versions")
        batch_op.drop_column("signal_versions")
