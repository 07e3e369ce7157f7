"""The local runtime behind `gatekey serve`: embedded storage and a gateway that speaks API Gateway."""
