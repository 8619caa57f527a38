"""The dankjewel services; each folder has the same shape:

    service.py   the wiring: which events it consumes and publishes, its HTTP routes
    handlers.py  one function per consumed event type: event → state change (+ outbox)
    domain.py    the rules, as pure functions
    tables.py    the tables it owns (prefixed with the service name)
    api.py       its HTTP API (FastAPI)
    migrations/  its Alembic migrations
"""
