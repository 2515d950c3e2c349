"""krisdispatch: calls a municipality's staff to their trained crisis placements."""

__version__ = "0.1.0"
