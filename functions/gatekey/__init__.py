"""Gatekey: API-key management and request authentication for AWS API Gateway."""
