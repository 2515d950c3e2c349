"""The pure core: plain data and functions, no I/O.

Nothing under this package may import aiohttp, aiosqlite, apscheduler, twilio or
structlog; `tests/test_purity.py` enforces it.
"""
