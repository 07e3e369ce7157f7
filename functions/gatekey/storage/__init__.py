"""The only layer that talks to DynamoDB and KMS."""
