"""The HTTP service: a second thin front over the one pipeline (``create_app``)."""

from consentry.service.app import create_app
from consentry.service.config import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
