"""The ledger: one durable, text-free row per upstream attempt, and the store behind it.

``open_store(url)`` gives a ``LedgerStore``; ``LedgerWriter`` is the engine's
``Recorder`` that batches rows into it off the event loop.
"""

from aegis.ledger.store import (
    Filters,
    KeyRow,
    LedgerRow,
    LedgerStore,
    Scope,
    SpendRow,
    open_store,
    read_rows,
    usd_to_nusd,
    write_rows,
)

__all__ = [
    "Filters", "KeyRow", "LedgerRow", "LedgerStore", "Scope", "SpendRow", "open_store",
    "read_rows", "usd_to_nusd", "write_rows",
]
