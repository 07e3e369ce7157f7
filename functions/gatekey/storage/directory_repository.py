"""Organisations and users in the directory table (pk `ORG#<org id>`, sk `ORG` or `USER#<user id>`)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.directory import Organisation, User
from gatekey.storage import aws
from gatekey.storage.items import plain
from gatekey.storage.tables import org_item_key, user_item_key


class DirectoryRepository:
    def __init__(self, directory_table: str) -> None:
        self._directory_table = directory_table

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._directory_table)

    def create_org(self, org: Organisation) -> None:
        item = {
            **org_item_key(org.org_id),
            "org_id": org.org_id,
            "name": org.name,
            "key_limit": org.key_limit,
            "key_count": 0,
            "created_at": to_iso(org.created_at),
            "partner_id": org.partner_id,
        }
        self._table.put_item(
            Item={k: v for k, v in item.items() if v is not None},
            ConditionExpression=Attr("pk").not_exists(),
        )

    def get_org(self, org_id: str) -> Organisation | None:
        with aws.storage_errors():
            item = self._table.get_item(Key=org_item_key(org_id)).get("Item")
        if not item:
            return None
        values = plain(item)
        return Organisation(
            org_id=values["org_id"],
            name=values["name"],
            key_limit=values["key_limit"],
            created_at=from_iso(values["created_at"]),
            partner_id=values.get("partner_id"),
        )

    def create_user(self, user: User) -> None:
        self._table.put_item(
            Item={
                **user_item_key(user.org_id, user.user_id),
                "user_id": user.user_id,
                "org_id": user.org_id,
                "email": user.email,
                "name": user.name,
                "role": user.role,
                "created_at": to_iso(user.created_at),
            },
            ConditionExpression=Attr("pk").not_exists(),
        )

    def get_user(self, org_id: str, user_id: str) -> User | None:
        with aws.storage_errors():
            item = self._table.get_item(Key=user_item_key(org_id, user_id)).get("Item")
        if not item:
            return None
        values = plain(item)
        return User(
            user_id=values["user_id"],
            org_id=values["org_id"],
            email=values["email"],
            name=values["name"],
            role=values["role"],
            created_at=from_iso(values["created_at"]),
        )
