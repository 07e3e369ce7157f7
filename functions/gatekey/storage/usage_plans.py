"""API Gateway's usage plans and API keys (DESIGN §13): what the plans of orgs and keys are made of.

The construct creates two usage plans per plan (the protected APIs', Gatekey's own API's), named by
`usage_plan_name`; this module finds them by name, gives each org (and each key with a plan of its own) an API
Gateway key whose value is derived from its id (domain/plans.py), puts that key in its plan's two usage plans and
no other, and reads API Gateway's usage data.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gatekey.domain.errors import ConflictError
from gatekey.domain.hashing import SecretPepper
from gatekey.domain.plans import (
    API_KEYS_PER_REGION,
    usage_key_name,
    usage_key_value,
    usage_plan_name,
    usage_plan_names,
)
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors

if TYPE_CHECKING:
    from mypy_boto3_apigateway.type_defs import UsageTypeDef


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ApiGatewayUsagePlans:
    """The stage's usage plans and API Gateway keys (`UsageIdentities`), and their usage (`UsageRecords`)."""

    def __init__(self, stage: str, pepper: SecretPepper) -> None:
        self._stage = stage
        self._pepper = pepper
        self._plan_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def ensure(self, subject: str, plan: str) -> str:
        """The API Gateway key of `subject` (an org's or a key's id), created if missing, in `plan`'s two usage
        plans (the protected APIs', Gatekey's API's) and in no other; its id. Idempotent: run again, it changes
        nothing."""
        targets = {self._usage_plan_id(name) for name in usage_plan_names(self._stage, plan)}
        client = aws.apigateway_client()
        with storage_errors():
            key_id = self._find(subject) or self._create(subject)
            current = {usage_plan["id"] for usage_plan in client.get_usage_plans(keyId=key_id).get("items", [])}
            # A key may be in one usage plan per API stage, and every plan's pair covers the same stages: out of the
            # old first (requests in between are refused for a moment), then into the new.
            for other in current - targets:
                client.delete_usage_plan_key(usagePlanId=other, keyId=key_id)
            for target in targets - current:
                try:
                    client.create_usage_plan_key(usagePlanId=target, keyId=key_id, keyType="API_KEY")
                except ClientError as error:
                    if _code(error) != "ConflictException":
                        raise
        return key_id

    def remove(self, subject: str) -> None:
        """Delete `subject`'s API Gateway key (and so its place in its usage plan), if it has one."""
        with storage_errors():
            key_id = self._find(subject)
            if key_id is None:
                return
            try:
                aws.apigateway_client().delete_api_key(apiKey=key_id)
            except ClientError as error:
                if _code(error) != "NotFoundException":
                    raise

    def subject_of(self, api_key_id: str) -> str | None:
        """Whose API Gateway key this is (an org's or a key's id), from its name; None for any other key."""
        prefix = usage_key_name(self._stage, "")
        with storage_errors():
            try:
                name = aws.apigateway_client().get_api_key(apiKey=api_key_id).get("name", "")
            except ClientError as error:
                if _code(error) == "NotFoundException":
                    return None
                raise
        return name.removeprefix(prefix) if name.startswith(prefix) else None

    def daily_usage(self, plan: str, start: date, end: date, api_key_id: str | None = None) -> dict[str, list[int]]:
        """API Gateway's GetUsage: requests per day from `start` to `end` per key of `plan`'s usage plan for the
        protected APIs (what the plan sells; Gatekey's own API is limited alike but not reported)."""
        request: dict[str, Any] = {
            "usagePlanId": self._usage_plan_id(usage_plan_name(self._stage, plan)),
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "limit": 500,
        }
        if api_key_id:
            request["keyId"] = api_key_id
        counts: dict[str, list[int]] = {}
        with storage_errors():
            while True:
                page: UsageTypeDef = aws.apigateway_client().get_usage(**request)
                counts.update(requests_per_day(page.get("items", {})))
                if not page.get("position"):
                    return counts
                request["position"] = page["position"]

    def api_key_id(self, subject: str) -> str | None:
        with storage_errors():
            return self._find(subject)

    def _find(self, subject: str) -> str | None:
        name = usage_key_name(self._stage, subject)
        request: dict[str, Any] = {"nameQuery": name, "includeValues": False, "limit": 500}
        client = aws.apigateway_client()
        while True:
            page = client.get_api_keys(**request)
            for key in page.get("items", []):
                if key.get("name") == name:
                    return str(key["id"])
            if not page.get("position"):
                return None
            request["position"] = page["position"]

    def _create(self, subject: str) -> str:
        client = aws.apigateway_client()
        try:
            created = client.create_api_key(
                name=usage_key_name(self._stage, subject),
                description=f"Gatekey {self._stage}: the requests of {subject} count against this key's usage plan",
                value=usage_key_value(self._pepper.key(), subject),
                enabled=True,
            )
        except ClientError as error:
            if _code(error) == "LimitExceededException":
                raise ConflictError(
                    f"API Gateway holds no more API keys in this region (AWS allows {API_KEYS_PER_REGION:,}): "
                    "give fewer keys a plan of their own",
                    code="plan_capacity",
                ) from error
            if _code(error) == "ConflictException":  # created meanwhile by a concurrent request
                found = self._find(subject)
                if found:
                    return found
            raise
        return str(created["id"])

    def _usage_plan_id(self, name: str) -> str:
        """The id of the stage's usage plan of this name; the stage's usage plans are looked up once per process
        (again when one is missing: a deployment may have added it)."""
        with self._lock:
            if name not in self._plan_ids:
                request: dict[str, Any] = {"limit": 500}
                with storage_errors():
                    while True:
                        page = aws.apigateway_client().get_usage_plans(**request)
                        for usage_plan in page.get("items", []):
                            self._plan_ids[usage_plan.get("name", "")] = usage_plan["id"]
                        if not page.get("position"):
                            break
                        request["position"] = page["position"]
            if name not in self._plan_ids:
                raise ConflictError(
                    f"the stage has no usage plan '{name}': deploy the configuration with this plan first",
                    code="plan_not_deployed",
                )
            return self._plan_ids[name]


def requests_per_day(items: dict[str, list[list[int]]]) -> dict[str, list[int]]:
    """GetUsage's `items` ({key id: [[used, remaining], ...] one pair per day}) as requests per day."""
    return {key_id: [int(day[0]) for day in days] for key_id, days in items.items()}
