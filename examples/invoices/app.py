"""Invoices' CDK app: `npx aws-cdk@2 deploy` deploys the Invoices API and Gatekey in front of it."""

from __future__ import annotations

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks
from invoices_stack import InvoicesStack

from gatekey.cdk import ConfigurationError

STAGE = "dev"


def main() -> None:
    app = App()
    try:
        InvoicesStack(app, f"Invoices-{STAGE}", stage=STAGE)
    except ConfigurationError as error:
        # A mistake in gatekey.toml: one line per problem (file, entry, what is wrong), not a traceback.
        sys.exit(str(error))
    # AWS Solutions checks at every synth; acknowledged findings carry their reason in the template's metadata.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
