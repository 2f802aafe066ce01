"""Typed errors. Each carries a short machine-readable ``code`` and a human reason."""


class ConsentryError(Exception):
    """Base class of every error Consentry raises on purpose."""

    code = "error"


class MediaError(ConsentryError):
    """The item could not be read as media; the batch goes on without it."""

    code = "media_error"

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        if code:
            self.code = code


class LimitExceeded(MediaError):
    """The item is bigger, longer or slower to decode than the configured limits allow."""

    code = "limit_exceeded"


class UnsupportedMedia(MediaError):
    code = "unsupported"


class SignalError(ConsentryError):
    """A signal failed on one item (the item is reported, the batch goes on)."""

    code = "signal_error"


class ConfigError(ConsentryError):
    """Bad settings, policy file or command-line use: exit code 2."""

    code = "config_error"


class WorkerStartError(ConsentryError):
    """A worker process died before it could take any item (a broken install, not bad media)."""

    code = "worker_start"
