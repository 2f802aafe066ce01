"""What an operator can set for the service (``consentry serve`` options map onto these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServiceSettings:
    spool_dir: Path  # uploads wait here (as job files) until their job ends
    max_upload_bytes: int = 200 * 1024**2
    # Requests per minute per key (a key's own rate overrides it); 0 = unlimited.
    rate_per_minute: int = 600
    # How long a verified key is trusted before its row is read again (revocation through
    # this process is immediate; through another process it takes at most this long).
    key_cache_s: float = 5.0
    job_batch: int = 32  # jobs one pipeline run takes at once
    job_lease_s: float = 60.0
    job_poll_s: float = 0.05
    job_gather_s: float = 0.02  # a batch smaller than job_batch waits this long for more
    scan_workers: int | None = None  # analysis processes per pipeline run (default: cores)
    # "ray": job batches are analysed on the Ray cluster at ray_address (Ray actors, as
    # `scan --engine ray`), decisions and storage stay in the job worker; "local": processes
    engine: str = "local"
    ray_address: str | None = None
    ray_share: int = 1  # job workers sharing the cluster: each takes this share of its CPUs
    # Named policy files a scan may ask for (``policy=NAME``); absent: the shipped default.
    policies: dict[str, Path] = field(default_factory=dict)
    max_wait_s: float = 60.0  # the longest ?wait= a request may hold
    # Fetching uploads by URL (``POST /v1/scan`` with ``url=``; service/url_fetch.py): off
    # unless turned on, then only from these hosts, bounded in bytes and seconds, never to
    # loopback, private or link-local addresses. HMA's ``url=`` parameters answer 400.
    url_fetch: bool = False
    url_allow_hosts: tuple[str, ...] = ()
    url_max_bytes: int = 50 * 1024**2
    url_timeout_s: float = 20.0
    url_allow_loopback_unsafe: bool = False  # UNSAFE: tests on one machine only
    index_refresh_s: float = 2.0  # how often another process's bank changes are picked up
    webhook_retries: int = 5
    webhook_backoff_s: float = 1.0
    # Victim cases (docs/cases.md): the bank their hashes go into, the bank partners follow
    # for consented cases, and the limits of the routes that need no account.
    case_bank: str = "helpline-cases"
    share_bank: str = "helpline-shared"
    case_opens_per_hour: int = 10  # per client address; 0 = unlimited
    case_max_bytes: int = 4 * 1024**2  # a submission file (hashes only: ~1 KB an image)
    pin_failures: int = 5  # wrong PINs in a row before the case is locked
    pin_lock_s: float = 15 * 60
    pin_failures_per_address: int = 20  # wrong PINs from one address, any cases, per pin_lock_s
