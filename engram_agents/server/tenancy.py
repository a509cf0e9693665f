"""Tenant isolation by namespacing: a key of tenant `acme` reaches user `alice` as the stored
user `acme:alice`, so two tenants' "alice" never meet, and an engram id of another tenant is
simply not found. Everything sent back is mapped to the caller's own ids again."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from engram_agents.errors import AccessDeniedError, InvalidInputError
from engram_agents.ids import check_id
from engram_agents.memory import EngramMemory
from engram_agents.store.audit import verify
from engram_agents.store.errors import AuditIntegrityError
from engram_agents.store.records import Engram, RecallHit

# With the tenant prefix (at most 63 characters and ':') a stored id stays within the store's 256.
MAX_ID = 192
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_path_id(value: object, what: str = "user_id") -> str:
    """The core's id rule (`check_id`), and since ids travel in URL paths: refuse separators,
    control characters and dot-only names, so no id can ever read as a path."""
    value = check_id(value, what)  # the one id rule; a path id adds a tighter cap and path safety
    if len(value) > MAX_ID:
        raise InvalidInputError(f"{what} is longer than {MAX_ID} characters")
    if _UNSAFE.search(value) or not value.strip("."):
        raise InvalidInputError(
            f"{what} may not contain '/', '\\' or control characters, nor be only dots"
        )
    return value


class Principal(BaseModel):
    """Who is calling: a tenant and the users its key may touch (None: all of the tenant's).
    `tenant=None` is the open, keyless mode of a loopback server: ids are used as they are."""

    model_config = ConfigDict(frozen=True)

    tenant: str | None = None
    users: tuple[str, ...] | None = None
    default_user: str | None = None

    def inside(self, user_id: object) -> str:
        """The stored user id for the caller's `user_id`, if the key may touch it."""
        if user_id is None and self.default_user is not None:
            user_id = self.default_user
        user = check_path_id(user_id)
        if self.users is not None and user not in self.users:
            raise AccessDeniedError("this API key may not access that user")
        return user if self.tenant is None else f"{self.tenant}:{user}"

    def owns(self, stored_user_id: str) -> bool:
        """Whether a stored user id is one this key may touch."""
        if self.tenant is None:
            return self.users is None or stored_user_id in self.users
        inside = stored_user_id.startswith(f"{self.tenant}:")
        return inside and (self.users is None or self.outside(stored_user_id) in self.users)

    def outside(self, user_id: str) -> str:
        return user_id if self.tenant is None else user_id.removeprefix(f"{self.tenant}:")

    def engram(self, engram: Engram) -> Engram:
        if self.tenant is None:
            return engram
        scope = engram.scope.model_copy(update={"user_id": self.outside(engram.scope.user_id)})
        return engram.model_copy(update={"scope": scope})

    def hit(self, hit: RecallHit) -> RecallHit:
        if self.tenant is None:
            return hit
        return hit.model_copy(update={"engram": self.engram(hit.engram)})

    def export(self, data: dict[str, Any]) -> dict[str, Any]:
        for engram in data["engrams"]:
            engram["scope"]["user_id"] = self.outside(engram["scope"]["user_id"])
        return {**data, "user_id": self.outside(data["user_id"])}

    def message(self, text: str) -> str:
        """An error message with stored user ids put back as the caller wrote them."""
        return text if self.tenant is None else text.replace(f"{self.tenant}:", "")


def verified_entries(memory: EngramMemory, who: Principal) -> int:
    """Check the whole store's audit hash chain and count the entries the caller may know of:
    those about the users its key may touch, never the store's total (which would tell a tenant
    how busy the others are). For a tenant, a broken chain is reported without the position or
    action of the bad entry, which may be another tenant's."""
    events = memory.store.backend.audit_events()
    try:
        verify(events)
    except AuditIntegrityError as exc:
        if who.tenant is None:
            raise
        raise AuditIntegrityError(
            "the server's audit log fails its hash-chain check (an entry was altered or "
            "removed); the server's operator can locate it with EngramMemory.verify_audit()"
        ) from exc
    if who.tenant is None and who.users is None:
        return len(events)
    return sum(who.owns(event.user_id) for event in events)
