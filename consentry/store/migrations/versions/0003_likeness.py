"""likeness registry: persons, consent records, face descriptors

Revision ID: 0003_likeness
Revises: 0002_banks
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_likeness"
down_revision: str | Sequence[str] | None = "0002_banks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("likeness_persons"):
        return  # applied when this migration was a branch off 0001_core (see store.db)
    op.create_table(
        "likeness_persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "likeness_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("attestation", sa.Text(), nullable=False),
        sa.Column("document_name", sa.String(length=500), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["likeness_persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_likeness_consents_person_id", "likeness_consents", ["person_id"])
    op.create_table(
        "likeness_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("face_size", sa.Float(), nullable=False),
        sa.Column("sharpness", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["likeness_persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_likeness_embeddings_person_id", "likeness_embeddings", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_likeness_embeddings_person_id", table_name="likeness_embeddings")
    op.drop_table("likeness_embeddings")
    op.drop_index("ix_likeness_consents_person_id", table_name="likeness_consents")
    op.drop_table("likeness_consents")
    op.drop_table("likeness_persons")
