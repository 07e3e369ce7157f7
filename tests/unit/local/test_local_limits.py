"""The local gateway holds requests to their usage plan as API Gateway does (DESIGN §13): a token bucket, a calendar
quota in UTC, per-day counts in GetUsage's shape, and the gateway's answers over a real socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api_gateway import ACCESS_DENIED, GATEKEY_ROUTES, QUOTA_EXCEEDED, ROUTES, STORE_DEMO_ROUTE, THROTTLED
from gatekey.domain.plans import (
    GATEKEY_API,
    PROTECTED_APIS,
    Plan,
    Quota,
    QuotaPeriod,
    UsagePlanScope,
    UsageRecords,
    usage_plan_name,
)
from gatekey.local.gateway import LocalGateway, lambda_routes, requiring_api_keys
from gatekey.local.limits import LocalUsageRecords, UsageKey, UsageLimiter, UsagePlanEnforcer
from gatekey.settings import API_VERSION

# A Wednesday, a second before midnight UTC.
WEDNESDAY_NIGHT = datetime(2027, 3, 17, 23, 59, 59, tzinfo=UTC)


class Clocks:
    """The limiter's two clocks, moved together by hand."""

    def __init__(self, now: datetime = WEDNESDAY_NIGHT) -> None:
        self.seconds = 1000.0
        self.now = now

    def monotonic(self) -> float:
        return self.seconds

    def utc_now(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)


def limiter(clocks: Clocks, records: LocalUsageRecords | None = None) -> UsageLimiter:
    return UsageLimiter(records or LocalUsageRecords(), monotonic=clocks.monotonic, now=clocks.utc_now)


def usage_key(plan: Plan, key: str = "key_a", scope: UsagePlanScope = PROTECTED_APIS) -> UsageKey:
    """`key` in `plan`'s usage plan for the APIs of `scope` on the local stage."""
    return UsageKey(key, usage_plan_name("local", plan.name, scope), plan)


def admitted(
    limits: UsageLimiter, plan: Plan, times: int, key: str = "key_a", scope: UsagePlanScope = PROTECTED_APIS
) -> list[str | None]:
    """What each of `times` requests got: None when admitted, else the gateway response's type."""
    answers = [limits.admit(usage_key(plan, key, scope)) for _ in range(times)]
    return [None if answer is None else answer.response_type for answer in answers]


def test_a_bucket_lets_a_burst_through_then_refills_at_the_rate() -> None:
    clocks = Clocks()
    limits = limiter(clocks)
    plan = Plan("free", rate=2, burst=3)

    assert admitted(limits, plan, 4) == [None, None, None, "THROTTLED"]
    clocks.advance(0.5)  # one token back
    assert admitted(limits, plan, 2) == [None, "THROTTLED"]
    clocks.advance(60)  # the bucket holds no more than the burst
    assert admitted(limits, plan, 4) == [None, None, None, "THROTTLED"]


def test_the_refusals_are_api_gateways_throttled_and_quota_exceeded() -> None:
    limits = limiter(Clocks())

    fast, spent = Plan("fast", rate=1, burst=1), Plan("spent", rate=1, burst=5, quota=Quota(1, "day"))

    assert (limits.admit(usage_key(fast)), limits.admit(usage_key(fast))) == (None, THROTTLED)
    assert (limits.admit(usage_key(spent)), limits.admit(usage_key(spent))) == (None, QUOTA_EXCEEDED)


@pytest.mark.parametrize(
    ("period", "before_the_boundary"),
    [
        ("day", datetime(2027, 3, 17, 23, 59, 59, tzinfo=UTC)),
        ("week", datetime(2027, 3, 20, 23, 59, 59, tzinfo=UTC)),  # a Saturday: weeks start on Sunday
        ("month", datetime(2027, 2, 28, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_the_quota_ends_at_exactly_its_limit_and_resets_at_the_period_boundary(
    period: QuotaPeriod, before_the_boundary: datetime
) -> None:
    clocks = Clocks(before_the_boundary)
    limits = limiter(clocks)
    plan = Plan("free", rate=1000, burst=1000, quota=Quota(3, period))

    assert admitted(limits, plan, 5) == [None, None, None, "QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]
    clocks.advance(0.999)  # still in the period
    assert admitted(limits, plan, 1) == ["QUOTA_EXCEEDED"]
    clocks.advance(0.001)  # midnight UTC, a new period
    assert admitted(limits, plan, 4) == [None, None, None, "QUOTA_EXCEEDED"]


def test_a_week_counts_every_day_since_sunday() -> None:
    clocks = Clocks(datetime(2027, 3, 14, 12, 0, tzinfo=UTC))  # a Sunday
    limits = limiter(clocks)
    plan = Plan("free", rate=1000, burst=1000, quota=Quota(4, "week"))

    for _ in range(3):
        assert admitted(limits, plan, 1) == [None]
        clocks.advance(2 * 24 * 3600)  # Tuesday, Thursday, Saturday
    assert admitted(limits, plan, 2) == [None, "QUOTA_EXCEEDED"]


def test_refused_requests_are_not_counted() -> None:
    clocks = Clocks(datetime(2027, 3, 17, 12, 0, tzinfo=UTC))
    records = LocalUsageRecords()
    limits = limiter(clocks, records)
    plan = Plan("free", rate=1, burst=2, quota=Quota(3, "day"))

    assert admitted(limits, plan, 5) == [None, None, "THROTTLED", "THROTTLED", "THROTTLED"]
    assert records.daily_usage("free", date(2027, 3, 17), date(2027, 3, 17)) == {"key_a": [2]}
    clocks.advance(10)
    assert admitted(limits, plan, 3) == [None, "QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]
    assert records.daily_usage("free", date(2027, 3, 17), date(2027, 3, 17)) == {"key_a": [3]}


def test_a_refused_request_takes_no_token() -> None:
    """A client told its quota is spent keeps hearing so, not that it is too fast."""
    limits = limiter(Clocks())
    plan = Plan("free", rate=1, burst=2, quota=Quota(1, "day"))

    assert admitted(limits, plan, 4) == [None, "QUOTA_EXCEEDED", "QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]


def test_daily_counts_read_as_get_usage_reports_them() -> None:
    clocks = Clocks(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
    records = LocalUsageRecords()
    limits = limiter(clocks, records)
    free, pro = Plan("free", rate=1000, burst=1000), Plan("pro", rate=1000, burst=1000)
    admitted(limits, free, 2, "key_a")
    admitted(limits, free, 1, "key_b")
    admitted(limits, pro, 4, "key_c")
    clocks.advance(2 * 24 * 3600)
    admitted(limits, free, 3, "key_a")

    usage: UsageRecords = records
    assert usage.daily_usage("free", date(2027, 3, 14), date(2027, 3, 18)) == {
        "key_a": [0, 2, 0, 3, 0],
        "key_b": [0, 1, 0, 0, 0],
    }
    assert usage.daily_usage("free", date(2027, 3, 15), date(2027, 3, 17), "key_a") == {"key_a": [2, 0, 3]}
    assert usage.daily_usage("pro", date(2027, 3, 15), date(2027, 3, 15)) == {"key_c": [4]}
    assert usage.daily_usage("free", date(2027, 3, 16), date(2027, 3, 16)) == {}  # no requests: left out
    assert usage.daily_usage("free", date(2027, 3, 15), date(2027, 3, 15), "key_z") == {}


def test_the_current_period_adds_up_the_days() -> None:
    clocks = Clocks(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    records = LocalUsageRecords()
    limits = limiter(clocks, records)
    plan = Plan("free", rate=1000, burst=1000, quota=Quota(100, "month"))
    for _ in range(3):
        admitted(limits, plan, 2)
        clocks.advance(24 * 3600)

    free = usage_plan_name("local", "free")
    assert records.used_in_period(free, "key_a", Quota(100, "month"), clocks.now) == 6
    assert records.used_in_period(free, "key_a", Quota(100, "day"), clocks.now) == 0


def test_days_are_kept_for_31_days() -> None:
    records = LocalUsageRecords()
    first = date(2027, 1, 1)
    for offset in range(40):
        records.record(usage_plan_name("local", "free"), "key_a", first + timedelta(days=offset))

    last = first + timedelta(days=39)
    counts = records.daily_usage("free", first, last)["key_a"]
    assert counts == [0] * 9 + [1] * 31


def test_keys_and_plans_are_limited_separately() -> None:
    limits = limiter(Clocks())
    free = Plan("free", rate=1, burst=5, quota=Quota(1, "day"))

    assert admitted(limits, free, 2, "key_a") == [None, "QUOTA_EXCEEDED"]
    assert admitted(limits, free, 2, "key_b") == [None, "QUOTA_EXCEEDED"]
    # The same key in another usage plan starts afresh, as a key moved to another plan does in API Gateway.
    assert admitted(limits, Plan("pro", rate=1, burst=1, quota=Quota(1, "day")), 1, "key_a") == [None]


def test_gatekeys_own_api_has_a_bucket_of_its_own() -> None:
    limits = limiter(Clocks())
    free = Plan("free", rate=1, burst=2)

    assert admitted(limits, free, 3) == [None, None, "THROTTLED"]
    # The same key and plan on Gatekey's API: the plan's other usage plan, limited alike but apart.
    assert admitted(limits, free, 3, scope=GATEKEY_API) == [None, None, "THROTTLED"]
    assert admitted(limits, free, 1) == ["THROTTLED"]


def test_a_spent_quota_on_the_protected_apis_leaves_gatekeys_api_its_own() -> None:
    clocks = Clocks(datetime(2027, 3, 17, 12, 0, tzinfo=UTC))
    records = LocalUsageRecords()
    limits = limiter(clocks, records)
    free = Plan("free", rate=1000, burst=1000, quota=Quota(3, "day"))
    today, tomorrow = date(2027, 3, 17), date(2027, 3, 18)

    assert admitted(limits, free, 4) == [None, None, None, "QUOTA_EXCEEDED"]
    assert admitted(limits, free, 2, scope=GATEKEY_API) == [None, None]
    # GET /v1/usage reports what the plan sells: the protected APIs' requests, not Gatekey's.
    assert records.daily_usage("free", today, today) == {"key_a": [3]}
    assert records.used(usage_plan_name("local", "free"), "key_a", today, tomorrow) == 3
    assert records.used(usage_plan_name("local", "free", GATEKEY_API), "key_a", today, tomorrow) == 2

    # Gatekey's API has the same quota, counted apart; neither spends the other's.
    assert admitted(limits, free, 2, scope=GATEKEY_API) == [None, "QUOTA_EXCEEDED"]
    assert admitted(limits, free, 1) == ["QUOTA_EXCEEDED"]
    assert records.daily_usage("free", today, today) == {"key_a": [3]}


def test_daily_usage_reads_the_plans_protected_usage_plan_on_the_records_stage() -> None:
    records = LocalUsageRecords(stage="prod")
    day = date(2027, 3, 17)
    for usage_plan, key in [
        (usage_plan_name("prod", "free"), "key_a"),
        (usage_plan_name("prod", "free", GATEKEY_API), "key_a"),
        (usage_plan_name("prod", "free", GATEKEY_API), "key_b"),
        (usage_plan_name("local", "free"), "key_c"),  # another stage's
        (usage_plan_name("prod", "pro"), "key_d"),
    ]:
        records.record(usage_plan, key, day)

    assert records.daily_usage("free", day, day) == {"key_a": [1]}
    assert records.daily_usage("free", day, day, "key_b") == {}
    assert records.daily_usage("pro", day, day) == {"key_d": [1]}


def test_concurrent_requests_never_exceed_the_burst_or_the_quota() -> None:
    clocks = Clocks(datetime(2027, 3, 17, 12, 0, tzinfo=UTC))  # frozen: nothing refills
    records = LocalUsageRecords()
    limits = limiter(clocks, records)
    bursty = Plan("bursty", rate=1, burst=100)
    capped = Plan("capped", rate=1, burst=5000, quota=Quota(250, "day"))
    answers: list[str | None] = []
    start = threading.Barrier(8)

    def client() -> None:
        start.wait()
        mine = [answer for _ in range(50) for answer in (*admitted(limits, bursty, 1), *admitted(limits, capped, 1))]
        answers.extend(mine)  # list.extend is atomic

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count("THROTTLED") == 400 - 100
    assert answers.count("QUOTA_EXCEEDED") == 400 - 250
    today = date(2027, 3, 17)
    assert records.daily_usage("bursty", today, today) == {"key_a": [100]}
    assert records.daily_usage("capped", today, today) == {"key_a": [250]}


class Keys:
    """A resolver over a fixed set of keys, standing in for the embedded API Gateway's: key value -> the key's id
    and plan, the key in both of the plan's usage plans unless `scopes` says which."""

    def __init__(
        self,
        keys: dict[str, tuple[str, Plan]],
        scopes: tuple[UsagePlanScope, ...] = (PROTECTED_APIS, GATEKEY_API),
    ) -> None:
        self.keys = keys
        self.scopes = scopes
        self.asked: list[tuple[str, UsagePlanScope]] = []

    def resolve(self, value: str, scope: UsagePlanScope) -> UsageKey | None:
        self.asked.append((value, scope))
        found = self.keys.get(value)
        if found is None or scope not in self.scopes:
            return None
        key_id, plan = found
        return UsageKey(key_id, usage_plan_name("local", plan.name, scope), plan)


def test_a_request_naming_no_key_of_a_usage_plan_is_forbidden() -> None:
    keys = Keys({"gku_a": ("key_a", Plan("free", 1, 1))})
    enforcer = UsagePlanEnforcer(keys, limiter(Clocks()))

    assert [enforcer.admit(named, PROTECTED_APIS) for named in (None, "", "gku_nobody")] == [ACCESS_DENIED] * 3
    assert enforcer.admit("gku_a", PROTECTED_APIS) is None
    assert keys.asked == [("gku_nobody", PROTECTED_APIS), ("gku_a", PROTECTED_APIS)]  # no key named, none looked for


def test_a_key_in_no_usage_plan_of_the_api_asked_is_forbidden_there() -> None:
    keys = Keys({"gku_a": ("key_a", Plan("free", 1, 1))}, scopes=(PROTECTED_APIS,))
    enforcer = UsagePlanEnforcer(keys, limiter(Clocks()))

    assert enforcer.admit("gku_a", GATEKEY_API) == ACCESS_DENIED
    assert enforcer.admit("gku_a", PROTECTED_APIS) is None
    assert keys.asked == [("gku_a", GATEKEY_API), ("gku_a", PROTECTED_APIS)]


def test_the_enforcer_holds_each_api_to_its_own_usage_plan() -> None:
    enforcer = UsagePlanEnforcer(Keys({"gku_a": ("key_a", Plan("free", 1, 1))}), limiter(Clocks()))

    assert [enforcer.admit("gku_a", PROTECTED_APIS) for _ in range(2)] == [None, THROTTLED]
    assert [enforcer.admit("gku_a", GATEKEY_API) for _ in range(2)] == [None, THROTTLED]


# The local gateway over a socket, with an authorizer naming the key each caller counts against.

FREE = Plan("free", rate=1, burst=2)
CAPPED = Plan("capped", rate=100, burst=100, quota=Quota(3, "day"))
KEYS = {"gku_free": ("key_free", FREE), "gku_capped": ("key_capped", CAPPED)}
TODAY = date(2027, 3, 17)


class Functions:
    """An authorizer allowing everything, naming the key after `Bearer`; a backend that answers 200."""

    def __init__(self) -> None:
        self.authorizer_calls = 0
        self.backend_calls = 0

    def authorizer(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.authorizer_calls += 1
        request = APIGatewayAuthorizerRequestEvent(event)
        arn = request.parsed_arn
        policy = APIGatewayAuthorizerResponse("key_1", arn.region, arn.aws_account_id, arn.api_id, arn.stage)
        policy.allow_all_routes()
        answer = policy.asdict()
        named = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if named == "malformed":
            answer["usageIdentifierKey"] = 42
        elif named != "nobody":
            answer["usageIdentifierKey"] = named
        return answer

    def backend(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.backend_calls += 1
        return {"statusCode": 200, "body": "{}"}

    def handlers(self) -> dict[str, Any]:
        return {"authorizer": self.authorizer, "api": self.backend, "store_demo": self.backend}


def serve(gateway: LocalGateway) -> Iterator[httpx.Client]:
    host, port = gateway.start()
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as client:
        yield client
    gateway.shutdown()


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def records() -> LocalUsageRecords:
    return LocalUsageRecords()


def test_lambda_routes_are_held_to_the_usage_plans_of_the_api_they_belong_to(functions: Functions) -> None:
    handlers = functions.handlers()

    assert {route.usage_plan_scope for route in lambda_routes(ROUTES, handlers)} == {PROTECTED_APIS}
    gatekeys = lambda_routes(GATEKEY_ROUTES, handlers, usage_plan_scope=GATEKEY_API)
    assert {route.usage_plan_scope for route in gatekeys} == {GATEKEY_API}
    assert {route.usage_plan_scope for route in requiring_api_keys(gatekeys)} == {GATEKEY_API}


def limited_gateway(functions: Functions, records: LocalUsageRecords, **options: Any) -> LocalGateway:
    """`gatekey serve`'s gateway with plans: Gatekey's routes held to the plans' usage plans for Gatekey's API, the
    protected API (the demo store) to theirs; every authorized route requires a key; the clocks stand still."""
    enforcer = UsagePlanEnforcer(Keys(KEYS), limiter(Clocks(datetime(2027, 3, 17, 12, 0, tzinfo=UTC)), records))
    handlers = functions.handlers()
    routes = (
        *lambda_routes(GATEKEY_ROUTES, handlers, authorizer_cached=False, usage_plan_scope=GATEKEY_API),
        *lambda_routes([STORE_DEMO_ROUTE], handlers),
    )
    return LocalGateway(requiring_api_keys(routes), functions.authorizer, usage_plans=enforcer, **options)


@pytest.fixture
def client(functions: Functions, records: LocalUsageRecords) -> Iterator[httpx.Client]:
    yield from serve(limited_gateway(functions, records))


def bearer(named: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {named}"}


def test_over_the_rate_is_429_too_many_requests_with_retry_after(client: httpx.Client) -> None:
    statuses = [client.get("/products", headers=bearer("gku_free")).status_code for _ in range(3)]
    refused = client.post("/orders", headers=bearer("gku_free"))  # every route of the protected API shares the bucket

    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Requests"}
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Gatekey-Version"] == API_VERSION


def test_over_the_quota_is_429_limit_exceeded(
    client: httpx.Client, functions: Functions, records: LocalUsageRecords
) -> None:
    statuses = [client.get("/products", headers=bearer("gku_capped")).status_code for _ in range(3)]
    refused = client.post("/orders", headers=bearer("gku_capped"))

    assert statuses == [200, 200, 200]
    assert (refused.status_code, refused.json()) == (429, {"message": "Limit Exceeded"})
    assert refused.headers["Gatekey-Version"] == API_VERSION
    assert "Retry-After" not in refused.headers
    assert functions.backend_calls == 3
    assert records.daily_usage("capped", TODAY, TODAY) == {"key_capped": [3]}


def test_gatekeys_own_api_is_throttled_apart_from_the_protected_api(client: httpx.Client) -> None:
    statuses = [client.get("/products", headers=bearer("gku_free")).status_code for _ in range(3)]
    own = [client.get("/v1/keys", headers=bearer("gku_free")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert own == [200, 200, 429]  # a bucket of its own, as full and as deep
    refused = client.get("/v1/keys", headers=bearer("gku_free"))
    assert (refused.status_code, refused.json()) == (429, {"message": "Too Many Requests"})
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Gatekey-Version"] == API_VERSION


def test_a_spent_quota_leaves_gatekeys_own_api_to_its_own_quota(
    client: httpx.Client, functions: Functions, records: LocalUsageRecords
) -> None:
    spent = [client.get("/products", headers=bearer("gku_capped")).status_code for _ in range(4)]
    own = [client.get("/v1/usage", headers=bearer("gku_capped")).status_code for _ in range(2)]

    assert spent == [200, 200, 200, 429]
    assert own == [200, 200]  # the customer can still see their usage and manage their keys
    assert records.daily_usage("capped", TODAY, TODAY) == {"key_capped": [3]}  # the protected API's only
    gatekey_api = usage_plan_name("local", "capped", GATEKEY_API)
    assert records.used(gatekey_api, "key_capped", TODAY, TODAY + timedelta(days=1)) == 2

    # Limited alike: Gatekey's API has the same quota, counted apart.
    more = [client.get("/v1/keys", headers=bearer("gku_capped")) for _ in range(2)]
    assert [response.status_code for response in more] == [200, 429]
    assert more[1].json() == {"message": "Limit Exceeded"}
    assert functions.backend_calls == 3 + 3
    assert records.daily_usage("capped", TODAY, TODAY) == {"key_capped": [3]}


def test_without_a_key_of_a_usage_plan_the_request_is_forbidden(client: httpx.Client, functions: Functions) -> None:
    for path in ("/products", "/v1/keys"):
        for named in ("nobody", "gku_unknown"):
            response = client.get(path, headers=bearer(named))
            assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
            assert response.headers["Gatekey-Version"] == API_VERSION
    assert functions.backend_calls == 0


def test_an_identifier_that_is_not_a_string_is_a_malformed_authorizer_answer(client: httpx.Client) -> None:
    assert client.get("/products", headers=bearer("malformed")).status_code == 503


def test_public_routes_are_never_limited(client: httpx.Client, records: LocalUsageRecords) -> None:
    assert {client.get("/health").status_code for _ in range(10)} == {200}
    assert records.daily_usage("free", TODAY, TODAY) == {}
    gatekey_api = usage_plan_name("local", "free", GATEKEY_API)
    assert records.used(gatekey_api, "key_free", TODAY, TODAY + timedelta(days=1)) == 0


def test_a_cached_authorizer_answer_still_names_the_key(functions: Functions, records: LocalUsageRecords) -> None:
    for client in serve(limited_gateway(functions, records, authorizer_cache_ttl=300)):
        statuses = [client.get("/products", headers=bearer("gku_capped")).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert functions.authorizer_calls == 1


def test_without_plans_nothing_is_limited_and_no_key_is_needed(functions: Functions) -> None:
    for client in serve(LocalGateway(lambda_routes(ROUTES, functions.handlers()), functions.authorizer)):
        statuses = {client.get("/products", headers=bearer(named)).status_code for named in ["nobody"] * 5}
        statuses |= {client.get("/products", headers=bearer("gku_free")).status_code for _ in range(5)}

    assert statuses == {200}


def test_routes_requiring_a_key_need_usage_plans(functions: Functions) -> None:
    with pytest.raises(ValueError, match="usage plans"):
        LocalGateway(requiring_api_keys(lambda_routes(ROUTES, functions.handlers())), functions.authorizer)
