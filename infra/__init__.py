"""The Gatekey CDK app: one stack per stage, composed of one construct per concern."""
