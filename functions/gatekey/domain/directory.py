"""Organisations and their users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Role = Literal["admin", "member"]


@dataclass(frozen=True)
class Organisation:
    org_id: str
    name: str
    key_limit: int
    created_at: datetime
    partner_id: str | None = None
    # Its plan (DESIGN §13), set once its API Gateway key is in that plan's usage plan; None without plans.
    plan: str | None = None


@dataclass(frozen=True)
class User:
    user_id: str
    org_id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class Directory(Protocol):
    """Where orgs and users are kept (storage/directory_repository.py): what the domain asks of it."""

    def create_org(self, org: Organisation) -> None: ...

    def get_org(self, org_id: str, *, including_deleted: bool = False) -> Organisation | None: ...

    def list_partner_orgs(
        self, partner_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Organisation], dict[str, str] | None]: ...

    def mark_org_deleted(self, org_id: str, at: datetime) -> None:
        """From now on no key or user can join the org."""

    def delete_org(self, org_id: str) -> None: ...

    def set_org_plan(self, org_id: str, plan: str) -> None:
        """Record the org's plan (its API Gateway key is in that plan's usage plan already)."""

    def all_orgs(self) -> Iterator[Organisation]:
        """Every live org (`gatekey plans sync`)."""

    def claim_quota_notice(self, org_id: str, subject: str, period_start: datetime, keep_until: datetime) -> bool:
        """True once per (subject, period): the first claim of a quota.exhausted notice."""

    def create_user(self, user: User) -> None:
        """Raises ConflictError when the email is taken in the org (ignoring case)."""

    def get_user(self, org_id: str, user_id: str, *, including_deleted: bool = False) -> User | None: ...

    def user_by_email(self, org_id: str, email: str) -> User | None:
        """The org's user with this email, compared ignoring case."""

    def list_users(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[User], dict[str, str] | None]: ...

    def all_users(self, org_id: str) -> Iterator[User]: ...

    def mark_user_deleted(self, user: User, at: datetime) -> None:
        """From now on no key can be created for the user."""

    def delete_user(self, user: User) -> None: ...
