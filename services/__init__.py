"""The dankjewel services; each folder has the same shape (docs/architecture.md):

    service.py   the wiring: which events it consumes and publishes, its HTTP routes
    handlers.py  entrypoint for Kafka: translate an event, call one use case
    api.py       entrypoint for HTTP (FastAPI): translate a request, call one use case
    usecases.py  one function per thing the service does: load, ask the domain, store, emit
    domain.py    the rules, as pure functions
    store.py     its SQL, over tables.py (the tables it owns, prefixed with the service name)
    migrations/  its Alembic migrations
"""
