"""The Matrix protocol as pure functions over plain data.

Nothing in this package performs I/O: no asyncio, no database, no HTTP. Services
fetch what a rule needs first, then call into here to decide.
"""
