"""Every table of the one schema, grouped by the stage whose data it holds. Importing this
package registers them all on ``Base.metadata`` (Alembic's target and the tests' schema check).
"""

from consentry.store.tables import backfill, banks, cases, core, likeness, review, service, verdicts  # noqa: F401
from consentry.store.tables.core import Base

metadata = Base.metadata
