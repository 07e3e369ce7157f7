"""Authority never grows (DESIGN §5): the one rule that decides whether a caller's authority covers a credential.

A credential's authority is its org, its standing and its permissions. Every operation that hands out or exposes
a secret (create, edit of permissions, rotate, reveal, a partner minting a key, an invitation link, a console
session) asks `require_cover` whether the caller's authority covers the authority of what it would hand out, and is
refused with 403 `insufficient_authority`, naming what the caller lacks, when it does not. Visibility (which keys a
caller may see at all, 404 otherwise) is decided before, in domain/key_lifecycle.py; revoking needs only standing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gatekey.domain.errors import ForbiddenError
from gatekey.domain.permissions import Level, exceeding

# admin > integration > member. A partner key stands apart: it acts in the orgs it created (as their admin, through
# `Authority.over_customer_org`) and is covered by nothing but itself or the provider's operator.
Standing = Literal["admin", "integration", "member", "partner", "operator"]
_RANK: Mapping[str, int] = {"member": 1, "integration": 2, "admin": 3}


@dataclass(frozen=True)
class Authority:
    """What a credential (or whoever holds one) may do: in which org, with which standing and permissions."""

    org_id: str
    standing: Standing
    permissions: Mapping[str, Level]

    @classmethod
    def operator(cls) -> Authority:
        """The provider's operator (the CLI with the stage's AWS credentials): covers every credential of every org."""
        return cls(org_id="*", standing="operator", permissions={})

    def over_customer_org(self, org_id: str, everything: Mapping[str, Level]) -> Authority:
        """A partner's authority in an org it created (the partner checked that): its admin, holding the catalog."""
        assert self.standing == "partner"
        return Authority(org_id=org_id, standing="admin", permissions=everything)


def lacking(holder: Authority, credential: Authority) -> list[str]:
    """What `holder` lacks to cover `credential`, in words; empty when it covers it."""
    if holder.standing == "operator":
        return []
    if holder.org_id != credential.org_id:
        return ["membership of the credential's organisation"]
    missing: list[str] = []
    if credential.standing == "operator":
        missing.append("the provider's operator standing")
    elif credential.standing == "partner" or holder.standing == "partner":
        if credential.standing != holder.standing:
            missing.append(f"{credential.standing} standing (yours: {holder.standing})")
    elif _RANK[holder.standing] < _RANK[credential.standing]:
        missing.append(f"{credential.standing} standing (yours: {holder.standing})")
    missing += [
        f"{resource}:{credential.permissions[resource].label}"
        for resource in exceeding(credential.permissions, holder.permissions)
    ]
    return missing


def covers(holder: Authority, credential: Authority) -> bool:
    return not lacking(holder, credential)


def require_cover(holder: Authority, credential: Authority, what: str) -> None:
    """Raise 403 `insufficient_authority` unless `holder` covers `credential`; `what` names the operation's result
    ("key 'key_…'", "an invitation for 'usr_…'"), so the refusal says what was asked and what was missing."""
    missing = lacking(holder, credential)
    if missing:
        raise InsufficientAuthorityError(
            f"your authority does not cover {what}: you lack {', '.join(missing)}", lacking=tuple(missing)
        )


class InsufficientAuthorityError(ForbiddenError):
    code = "insufficient_authority"

    def __init__(self, message: str, *, lacking: tuple[str, ...]) -> None:
        super().__init__(message)
        self.lacking = lacking
