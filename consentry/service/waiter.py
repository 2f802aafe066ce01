"""Waiting for jobs without a query per waiter: one task per server process asks the job
table, every ``poll_s``, which of the jobs someone waits on have ended (one query however
many requests wait), and wakes their requests."""

from __future__ import annotations

import asyncio

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from consentry.store.db import Database
from consentry.store.tables.service import Job


class JobWaiter:
    def __init__(self, db: Database, poll_s: float) -> None:
        self.db = db
        self.poll_s = poll_s
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, job_id: str, timeout: float) -> None:
        """Return once the job has ended or ``timeout`` seconds have passed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiting.get(job_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(job_id, None)

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.poll_s)
            ids = list(self._waiting)
            ended = await run_in_threadpool(self._ended, ids)
            for job_id in ended:
                for future in self._waiting.pop(job_id, []):
                    if not future.done():
                        future.set_result(None)

    def _ended(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        with self.db.session() as session:
            for lo in range(0, len(ids), 500):
                found.update(session.scalars(select(Job.id).where(
                    Job.id.in_(ids[lo : lo + 500]), Job.status.in_(("done", "error")))))
        return found
