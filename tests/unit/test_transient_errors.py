"""Which errors mean "the database is away, wait and retry" rather than a bug."""

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.consumer import is_transient


def chained(outer: BaseException, *inner: BaseException) -> BaseException:
    """`outer` raised from `inner[0]`, raised from `inner[1]`, ..."""
    current = outer
    for cause in inner:
        current.__cause__ = cause
        current = cause
    return outer


class ConnectionDoesNotExistError(Exception):  # stands in for asyncpg's, matched by name
    pass


def dbapi(message: str) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize(("error", "transient"), [
    (ConnectionRefusedError(), True),
    (asyncio.TimeoutError(), True),
    (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
    (chained(dbapi("connection was closed in the middle of operation"),
             ConnectionDoesNotExistError("closed"), ConnectionResetError(104, "reset")), True),
    (chained(dbapi("connection was closed"), ConnectionDoesNotExistError("closed")), True),
    (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    (dbapi("invalid input syntax for type integer"), False),
    (ValueError("bad record"), False),
])
def test_the_database_being_away_is_transient_and_a_bad_statement_is_not(error, transient):
    assert is_transient(error) is transient
