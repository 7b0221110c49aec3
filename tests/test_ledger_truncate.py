"""TRUNCATE cannot empty the ledger or the audit log on PostgreSQL (it fires no row triggers)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import open_store


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["movements", "postings", "audit_log"])
def test_truncate_is_refused(pg_url, table):
    store = open_store(pg_url)
    try:
        with pytest.raises(DBAPIError, match=f"{table} is append-only: TRUNCATE refused"):
            with store.write() as session:
                session.execute(text(f"TRUNCATE {table} CASCADE"))
    finally:
        store.dispose()
