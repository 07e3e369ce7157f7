"""The configuration's plans (DESIGN §13) as API Gateway usage plans, which enforce them. Each plan is two usage
plans with the plan's limits: one covering the stages of the APIs Gatekey protects, one covering Gatekey's own
management API (counted apart, domain/plans.py says why). Customers' API Gateway keys are added to them at run time,
by the functions, which find each usage plan by its name (`usage_plan_name`)."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from constructs import Construct

from gatekey.domain.plans import GATEKEY_API, PROTECTED_APIS, Plan, Plans, QuotaPeriod, UsagePlanScope, usage_plan_name
from gatekey.settings import StageSettings

QUOTA_PERIODS: dict[QuotaPeriod, apigateway.Period] = {
    "day": apigateway.Period.DAY,
    "week": apigateway.Period.WEEK,
    "month": apigateway.Period.MONTH,
}
_SCOPE_IDS: dict[UsagePlanScope, str] = {PROTECTED_APIS: "", GATEKEY_API: "GatekeyApi"}


class UsagePlans(Construct):
    """Two usage plans per plan of `plans`, with the plan's throttle and quota. Attributes: `by_name` (plan name ->
    the usage plan of the protected APIs) and `gatekey_api_by_name` (plan name -> the usage plan of Gatekey's own
    API). `cover(rest_api, scope)` adds an API's stage to every usage plan of that scope."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, plans: Plans) -> None:
        super().__init__(scope, construct_id)
        self._by_scope: dict[UsagePlanScope, dict[str, apigateway.UsagePlan]] = {
            usage_scope: {name: _usage_plan(self, settings, plans[name], usage_scope) for name in plans.names()}
            for usage_scope in (PROTECTED_APIS, GATEKEY_API)
        }
        self.by_name = self._by_scope[PROTECTED_APIS]
        self.gatekey_api_by_name = self._by_scope[GATEKEY_API]

    def all(self) -> list[apigateway.UsagePlan]:
        return [usage_plan for usage_plans in self._by_scope.values() for usage_plan in usage_plans.values()]

    def cover(self, rest_api: apigateway.RestApi, scope: UsagePlanScope) -> None:
        """Counts `rest_api`'s stage under every plan of `scope`: a customer's key is limited on every API of it."""
        for usage_plan in self._by_scope[scope].values():
            usage_plan.add_api_stage(api=rest_api, stage=rest_api.deployment_stage)


def _usage_plan(
    scope: Construct, settings: StageSettings, plan: Plan, usage_scope: UsagePlanScope
) -> apigateway.UsagePlan:
    quota = plan.quota
    limits = f"{plan.rate:g} requests/s, burst {plan.burst}" + (
        f", {quota.limit} requests a {quota.period}" if quota else ""
    )
    apis = "Gatekey's own API" if usage_scope == GATEKEY_API else "the APIs Gatekey protects"
    return apigateway.UsagePlan(
        scope,
        f"{plan.name}{_SCOPE_IDS[usage_scope]}",
        name=usage_plan_name(settings.stage, plan.name, usage_scope),
        description=f"Gatekey {settings.stage}: plan {plan.name} ({limits}) on {apis}",
        throttle=apigateway.ThrottleSettings(rate_limit=plan.rate, burst_limit=plan.burst),
        # Offset 0: periods start when API Gateway's calendar does (UTC midnight, Sunday, the 1st), as Quota says.
        quota=apigateway.QuotaSettings(limit=quota.limit, period=QUOTA_PERIODS[quota.period], offset=0)
        if quota
        else None,
    )
