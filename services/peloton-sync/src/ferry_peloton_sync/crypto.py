"""Tokens encrypted at rest with Fernet (cryptography): AES-128-CBC with an HMAC, keyed by
FERRY_PELOTON_TOKEN_KEY. Several comma-separated keys rotate it: the first encrypts, any decrypts."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ferry_peloton_sync.errors import TokenKeyError
from ferry_peloton_sync.settings import PelotonSettings

MAKE_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class TokenCipher:
    """Encrypts and decrypts one token string at a time."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise TokenKeyError(f"FERRY_PELOTON_TOKEN_KEY is not set: peloton-sync stores Peloton tokens encrypted "
                                f"and needs a Fernet key (make one with: {MAKE_KEY})")
        fernets = []
        for n, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise TokenKeyError(f"FERRY_PELOTON_TOKEN_KEY: key {n} is not a Fernet key (32 url-safe base64 "
                                    f"bytes, 44 characters; make one with: {MAKE_KEY})") from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_settings(cls, settings: PelotonSettings) -> TokenCipher:
        raw = settings.peloton_token_key.get_secret_value() if settings.peloton_token_key else ""
        return cls([k.strip() for k in raw.split(",") if k.strip()])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, stored: str, *, what: str = "a stored token") -> str:
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise TokenKeyError(f"FERRY_PELOTON_TOKEN_KEY cannot decrypt {what}: it is not the key the tokens "
                                "were stored with (restore that key, or add it after the new one)") from None
