"""Password hashing (Argon2id through argon2-cffi) with a short per-process cache of good checks.

A slow hash is what protects stored passwords, and it costs tens of milliseconds per
check: too much for clients that send UserLogin/Password with every request. As Znuny
does (CachedAuth, 300 s), a successful check is remembered for a while. The cache key
is the stored hash plus an HMAC of the password under a key that never leaves this
process, so a password change invalidates it at once and no password is kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import TTLCache

UNUSABLE = "!"

_hasher = PasswordHasher()
_process_key = secrets.token_bytes(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class PasswordChecker:
    def __init__(self, cache_ttl: float, max_entries: int = 10000) -> None:
        self.cache_ttl = cache_ttl
        # when full, the least recently used check goes first; cachetools' caches are not thread-safe
        self._cache: TTLCache[tuple[str, bytes], bool] = TTLCache(max_entries, ttl=max(cache_ttl, 0))
        self._lock = threading.Lock()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if not stored_hash or stored_hash == UNUSABLE or not password:
            return False
        key = (stored_hash, hmac.new(_process_key, password.encode(), hashlib.sha256).digest())
        with self._lock:
            if key in self._cache:
                return True
        try:
            _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if self.cache_ttl > 0:
            with self._lock:
                self._cache[key] = True
        return True
