"""Business rules of Gatekey; pure Python that knows nothing of Lambda or DynamoDB."""
