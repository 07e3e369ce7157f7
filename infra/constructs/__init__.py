"""One construct per concern of the Gatekey stack: database, functions, API, and their log groups."""
