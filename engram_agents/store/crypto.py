"""Encryption at rest: AES-GCM for text and metadata, keyed hashes for sketch tags so the tag
index still filters without revealing the tags."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engram_agents.store.errors import EncryptionError, InvalidInputError

KEY_ENV = "ENGRAM_ENCRYPTION_KEY"


def generate_key() -> str:
    """A fresh 256-bit key, base64-encoded, suitable for `ENGRAM_ENCRYPTION_KEY`."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _decode_key(key: str | bytes) -> bytes:
    if isinstance(key, bytes):
        raw = key
    else:
        try:
            raw = base64.urlsafe_b64decode(key.strip() + "=" * (-len(key.strip()) % 4))
        except ValueError as exc:
            raise EncryptionError("encryption key is not valid base64") from exc
    if len(raw) != 32:
        raise EncryptionError(f"encryption key must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class Cipher:
    """Encrypts payloads bound to their row (AAD) and hashes tags with a separate derived key."""

    def __init__(self, key: str | bytes) -> None:
        master = _decode_key(key)
        self._aead = AESGCM(_derive(master, b"engram-payload"))
        self._tag_key = _derive(master, b"engram-tags")
        self._user_keys: dict[str, bytes] = {}
        self.fingerprint = hashlib.sha256(_derive(master, b"engram-check")).hexdigest()[:16]

    @classmethod
    def from_env_or_key(cls, key: str | bytes | None) -> Cipher | None:
        key = key if key is not None else os.environ.get(KEY_ENV)
        return cls(key) if key else None

    @classmethod
    def required(cls, key: str | bytes | None, verb: str) -> Cipher:
        """The cipher a store migration needs: from the key given, else ENGRAM_ENCRYPTION_KEY."""
        cipher = cls.from_env_or_key(key)
        if cipher is None:
            raise InvalidInputError(f"{verb} needs encryption_key= or {KEY_ENV}")
        return cipher

    def encrypt(self, plaintext: bytes, associated: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, associated.encode())

    def decrypt(self, blob: bytes, associated: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], associated.encode())
        except InvalidTag as exc:
            raise EncryptionError(
                "cannot decrypt an engram: wrong key, or the stored data was altered"
            ) from exc

    def hash_tag(self, tag: str, user_id: str | None = None) -> str:
        """The tag's keyed hash; with `user_id`, under a key of that user's own, so equal tags
        of two users hash differently (their tag indexes cannot be linked). None: the one
        store-wide key of stores made before per-user tag keys."""
        key = self._tag_key if user_id is None else self._user_tag_key(user_id)
        return "h:" + hmac.new(key, tag.encode(), hashlib.sha256).hexdigest()[:24]

    def _user_tag_key(self, user_id: str) -> bytes:
        key = self._user_keys.get(user_id)
        if key is None:
            key = hmac.new(self._tag_key, b"user:" + user_id.encode(), hashlib.sha256).digest()
            self._user_keys[user_id] = key
        return key
