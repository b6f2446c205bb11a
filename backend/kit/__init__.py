"""The shared kernel: what every domain builds on and none owns.

Typed service errors, input validation, money, geography, the app clock, keyset pagination and
the database (engine, sessions, dialect helpers). Nothing in here imports a domain package.
"""
