"""likeness consents record how consent was verified; removed persons are forgotten

Revision ID: 0005_consent_method
Revises: 0004_verdicts

Consent records gain ``method`` (how the consent was verified; ``unrecorded`` for records
made before it was asked). Enrolment audit entries no longer carry the person's name or the
consent text (the consent table holds them while the person is enrolled), and persons
removed before removal forgot them everywhere are forgotten now (consentry.store.erasure).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from consentry.store.erasure import PERSONAL_DETAILS, new_pseudonym, scrub_json

revision: str = "0005_consent_method"
down_revision: str | Sequence[str] | None = "0004_verdicts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's view of the tables it rewrites (not the ORM classes, which move on).
audit = sa.table("audit_log", sa.column("id", sa.Integer), sa.column("action", sa.String),
                 sa.column("subject", sa.String), sa.column("details", sa.JSON))
items = sa.table("items", sa.column("id", sa.Integer), sa.column("result", sa.JSON))
verdicts = sa.table("verdicts", sa.column("item_id", sa.Integer), sa.column("reasons", sa.JSON))
persons = sa.table("likeness_persons", sa.column("id", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("likeness_consents") as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=32), nullable=False,
                                      server_default="unrecorded"))
    conn = op.get_bind()
    enrolled = {row.id for row in conn.execute(sa.select(persons.c.id))}
    rows = conn.execute(sa.select(audit).where(audit.c.subject.like("person:%"))).all()
    removed: dict[int, str] = {}
    for row in rows:
        pid = row.subject.removeprefix("person:")
        if pid.isdigit() and int(pid) not in enrolled:
            removed.setdefault(int(pid), new_pseudonym())
    for row in rows:
        pid = row.subject.removeprefix("person:")
        details = {k: v for k, v in (row.details or {}).items() if k not in PERSONAL_DETAILS}
        subject = row.subject
        if pid.isdigit() and int(pid) in removed:
            subject = f"person:{removed[int(pid)]}"
        if details != row.details or subject != row.subject:
            conn.execute(audit.update().where(audit.c.id == row.id)
                         .values(subject=subject, details=details))
        if pid.isdigit() and int(pid) in removed and row.action == "likeness.match":
            item_id = (row.details or {}).get("item_id")
            _scrub_item(conn, item_id, int(pid), removed[int(pid)])


def _scrub_item(conn, item_id, person_id: int, pseudonym: str) -> None:  # type: ignore[no-untyped-def]
    if item_id is None:
        return
    for row in conn.execute(sa.select(items).where(items.c.id == item_id)).all():
        conn.execute(items.update().where(items.c.id == item_id)
                     .values(result=scrub_json(row.result, person_id, pseudonym)))
    for row in conn.execute(sa.select(verdicts).where(verdicts.c.item_id == item_id)).all():
        conn.execute(verdicts.update().where(verdicts.c.item_id == item_id)
                     .values(reasons=scrub_json(row.reasons, person_id, pseudonym)))


def downgrade() -> None:
    with op.batch_alter_table("likeness_consents") as batch_op:
        batch_op.drop_column("method")
