"""Organisations and their users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Role = Literal["admin", "member"]


@dataclass(frozen=True)
class Organisation:
    org_id: str
    name: str
    key_limit: int
    created_at: datetime
    partner_id: str | None = None


@dataclass(frozen=True)
class User:
    user_id: str
    org_id: str
    email: str
    name: str
    role: Role
    created_at: datetime
