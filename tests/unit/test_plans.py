"""Plans in the configuration file (DESIGN §13): what a valid one gives, one line per problem of a bad one, the
calendar periods quotas count in, and the derived API Gateway key values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gatekey.configuration import ConfigurationError, load_configuration
from gatekey.domain.plans import Plan, Quota, usage_key_value

PLANS = """
default_plan = "free"

[plans.free]
rate = 5
burst = 10
quota = { limit = 1000, period = "day" }

[plans.pro]
rate = 100.5
burst = 200
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gatekey.toml"
    path.write_text(text)
    return path


def test_plans_and_the_default_plan_are_read(tmp_path: Path) -> None:
    plans = load_configuration(write(tmp_path, PLANS)).plans
    assert plans.enabled and plans.default == "free"
    assert plans["free"] == Plan("free", 5.0, 10, Quota(1000, "day"))
    assert plans["pro"] == Plan("pro", 100.5, 200, None)


def test_without_plans_there_are_no_limits() -> None:
    plans = load_configuration().plans
    assert not plans.enabled and plans.default is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[plans.free]\nrate = 5\nburst = 10\n", "default_plan: missing"),
        ('default_plan = "gold"\n[plans.free]\nrate = 5\nburst = 10\n', "default_plan: names no plan"),
        ('default_plan = "free"\n', "default_plan: there are no [plans.<name>] tables"),
        ('default_plan = "Free"\n[plans.Free]\nrate = 5\nburst = 10\n', "plans.Free: a plan name is"),
        ('default_plan = "free"\n[plans.free]\nrate = 0\nburst = 10\n', "plans.free.rate: must be a number"),
        ('default_plan = "free"\n[plans.free]\nrate = "5"\nburst = 10\n', "plans.free.rate: must be a number"),
        ('default_plan = "free"\n[plans.free]\nrate = 5\nburst = 0\n', "plans.free.burst: must be a whole number"),
        ('default_plan = "free"\n[plans.free]\nrate = 5\nburst = 2.5\n', "plans.free.burst: must be a whole number"),
        ('default_plan = "free"\n[plans.free]\nrate = 5\nburst = 10\nspeed = 1\n', "plans.free.speed: unknown entry"),
        (
            'default_plan = "free"\n[plans.free]\nrate = 5\nburst = 10\nquota = { limit = 0, period = "day" }\n',
            "plans.free.quota.limit: must be a whole number",
        ),
        (
            'default_plan = "free"\n[plans.free]\nrate = 5\nburst = 10\nquota = { limit = 5, period = "year" }\n',
            "plans.free.quota.period: must be one of day, week, month",
        ),
        ('default_plan = "free"\nplans = 3\n', "plans: must be a table"),
    ],
)
def test_each_problem_of_the_plans_is_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        load_configuration(path)
    assert any(line.startswith(f"{path}: {problem}") for line in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("period", "moment", "start", "end"),
    [
        ("day", "2026-12-01T23:59:59+00:00", "2026-12-01", "2026-12-02"),
        ("day", "2026-12-02T00:30:00+01:00", "2026-12-01", "2026-12-02"),  # still the 1st in UTC
        ("week", "2026-12-01T10:00:00+00:00", "2026-11-29", "2026-12-06"),  # a Tuesday: the week began on Sunday
        ("week", "2026-11-29T00:00:00+00:00", "2026-11-29", "2026-12-06"),
        ("month", "2026-12-31T23:00:00+00:00", "2026-12-01", "2027-01-01"),
        ("month", "2028-02-29T12:00:00+00:00", "2028-02-01", "2028-03-01"),
    ],
)
def test_quotas_count_in_calendar_periods_in_utc(period: str, moment: str, start: str, end: str) -> None:
    quota = Quota(10, period)  # type: ignore[arg-type]
    begins, ends = quota.period_of(datetime.fromisoformat(moment))
    assert (begins, ends) == (
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
    )


def test_usage_key_values_are_derived_per_subject_and_pepper() -> None:
    value = usage_key_value(b"pepper", "org_a")
    assert value == usage_key_value(b"pepper", "org_a")
    assert value != usage_key_value(b"pepper", "org_b") != usage_key_value(b"other", "org_a")
    assert value.startswith("gku_") and 20 <= len(value) <= 128
