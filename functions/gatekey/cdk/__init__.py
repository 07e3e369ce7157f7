"""Gatekey as a CDK construct library (needs the `[infra]` extra): `Gatekey(stack, "Gatekey", stage=..., config=...)`
deploys Gatekey, and `gatekey.protect(api)` puts it in front of a provider's REST API (DESIGN §11)."""

from gatekey.cdk.construct import Gatekey
from gatekey.cdk.functions import FunctionSize, GatekeyFunction
from gatekey.cdk.protection import ApiProtection, ProtectionError
from gatekey.cdk.stage import StageSelectionError
from gatekey.configuration import ConfigurationError
from gatekey.settings import ssm_parameter_name

__all__ = [
    "ApiProtection",
    "ConfigurationError",
    "FunctionSize",
    "Gatekey",
    "GatekeyFunction",
    "ProtectionError",
    "StageSelectionError",
    "ssm_parameter_name",
]
