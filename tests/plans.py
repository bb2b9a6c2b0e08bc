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


def executed_plans(fn) -> tuple[object, list[str]]:
    """Run ``fn`` and return its result and, for each query it ran, the plan as executed: EXPLAIN
    ANALYZE on PostgreSQL (``actual rows`` per node, so a test sees where a scan stopped; sequential
    scans and sorts made to look expensive as in ``query_plan``, for ``fn``'s own queries too),
    EXPLAIN QUERY PLAN on SQLite. Only for functions that read."""
    from django.test.utils import CaptureQueriesContext

    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            for setting in ("enable_seqscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
        with CaptureQueriesContext(connection) as ctx:
            result = fn()
        plans = []
        for query in ctx.captured_queries:
            if postgres:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
    return result, plans
