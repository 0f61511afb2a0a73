"""Argon2id password hashing, off the event loop.

Hashing is deliberately slow (tens of milliseconds), so it runs in a thread of
its own bounded pool (given by the app; media work has another).
Verifying against an unknown user still spends the same time on a dummy hash,
so response times do not reveal which user IDs exist.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from homeserver.config import PasswordHashingConfig


class PasswordHasher:
    def __init__(self, config: PasswordHashingConfig, pool: Executor) -> None:
        self._pool = pool
        self._argon2 = _Argon2(
            time_cost=config.time_cost,
            memory_cost=config.memory_kib,
            parallelism=config.parallelism,
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``password_hash`` ``None`` always fails (in equal time)."""
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("dummy password for timing")
            await asyncio.get_running_loop().run_in_executor(self._pool, self._check, self._dummy_hash, password)
            return False
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
