"""Thin Lambda entry points: parse the event, call domain code, shape the answer.

Lambda imports a handler through this package, so this runs first: garbage collection stays off while a handler
module initializes (its imports and clients allocate much and free almost nothing, so collections there only cost
cold-start time: about a quarter of the authorizer's import, measured by `make bench`), and each handler module
calls `initialized()` last, which freezes what init made (later collections skip it) and turns collection on again.
"""

from __future__ import annotations

import gc

gc.disable()


def initialized() -> None:
    """End of a handler module's init: what it made stays for the container's life, so collections skip it."""
    gc.freeze()
    gc.enable()
