"""Client side of Gatekey: the `gatekey` command line."""
