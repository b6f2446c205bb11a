"""The shared kernel: what every domain builds on and none owns.

Typed service errors, input validation, money, geography, the app clock, keyset pagination,
the database (engine, sessions, dialect helpers) and the broadcaster of live events (in process
or Redis pub/sub). Nothing in here imports a domain package.
"""
