"""One construct per concern of the Gatekey stack: database, functions, API, events and schedule, log groups."""
