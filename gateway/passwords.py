"""Password hashing (Argon2id through argon2-cffi) with a short per-process cache of good checks.

A slow hash is what protects stored passwords, and it costs tens of milliseconds per
check: too much for clients that send UserLogin/Password with every request. As Znuny
does (CachedAuth, 300 s), a successful check is remembered for a while. The cache key
is the stored hash plus an HMAC of the password under a key that never leaves this
process, so a password change invalidates it at once and no password is kept in memory.

The cost of new hashes is a setting (password_time_cost, password_memory_cost; argon2-cffi's
defaults unless configured). A stored hash carries the parameters it was made with, so
checking it needs no setting, and hashes made at another cost keep working (and are made
again at the configured cost on the next good login).

A login that does not exist, is invalid or has no usable password is checked against a
dummy hash made at the same cost (`PasswordChecker.verify` with no stored hash), so the
time of a refusal does not tell whether the login exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import TTLCache

from gateway.settings import Settings

UNUSABLE = "!"

_verifier = PasswordHasher()  # verify() reads the cost from the stored hash, not from here
_process_key = secrets.token_bytes(32)


def _hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.password_time_cost, memory_cost=settings.password_memory_cost)


def hash_password(password: str, settings: Settings) -> str:
    return _hasher(settings).hash(password)


def needs_rehash(stored_hash: str, settings: Settings) -> bool:
    """A hash made at another cost than the configured one: its refusals would take another time
    than the dummy's, so it is made again at the next good login."""
    try:
        return _hasher(settings).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


class PasswordChecker:
    def __init__(self, cache_ttl: float, settings: Settings, max_entries: int = 10000) -> None:
        self.cache_ttl = cache_ttl
        self.settings = settings
        self._dummy = ""
        # when full, the least recently used check goes first; cachetools' caches are not thread-safe
        self._cache: TTLCache[tuple[str, bytes], bool] = TTLCache(max_entries, ttl=max(cache_ttl, 0))
        self._lock = threading.Lock()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether `password` matches; without a usable stored hash it costs the same and is False."""
        if not password:
            return False
        if not stored_hash or stored_hash == UNUSABLE:
            self._spend(password)
            return False
        key = (stored_hash, hmac.new(_process_key, password.encode(), hashlib.sha256).digest())
        with self._lock:
            if key in self._cache:
                return True
        try:
            _verifier.verify(stored_hash, password)
        except VerificationError:
            return False
        except InvalidHashError:  # no Argon2 hash (a value written by hand): as costly as one
            self._spend(password)
            return False
        if self.cache_ttl > 0:
            with self._lock:
                self._cache[key] = True
        return True

    def _spend(self, password: str) -> None:
        """A verification as costly as a real one, against a hash of a secret nobody knows."""
        if not self._dummy:  # made on first need; two threads racing make two, and either serves
            self._dummy = hash_password(secrets.token_urlsafe(32), self.settings)
        with contextlib.suppress(VerificationError):
            _verifier.verify(self._dummy, password)
