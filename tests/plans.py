"""The query plan of a queryset, as the database would run it (plan tests: a list must read its
index in order instead of sorting every row it could show)."""
from __future__ import annotations

from django.db import connection


def query_plan(qs, *, bitmap: bool = False) -> str:
    """EXPLAIN on PostgreSQL (in the caller's test transaction, with sequential scans, sorts and,
    unless ``bitmap``, bitmap scans made to look expensive: the tables are tiny, so only an index in
    the query's order may win), EXPLAIN QUERY PLAN on SQLite. One line per plan node."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for setting in ("enable_seqscan", "enable_sort", *(() if bitmap else ("enable_bitmapscan",))):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
