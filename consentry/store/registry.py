"""Imports every module that defines tables, so ``metadata`` holds the whole schema."""

from consentry.match.banks import models as bank_models  # noqa: F401
from consentry.match.likeness import models as likeness_models  # noqa: F401
from consentry.policy import models as policy_models  # noqa: F401
from consentry.store import models  # noqa: F401
from consentry.store.models import Base

metadata = Base.metadata
