"""Runs one saved query (queries/*.sql) in DuckDB over a trailhound lake, for tests/queries.rs.

    python query.py LAKE SQL_FILE [RESULT.parquet]

LAKE is a state directory's lake/ folder (trailhound report): `events` and `sessions` become
views over its Hive-partitioned Parquet parts. The query's text is run unchanged. Prints one JSON
object: {"columns": [...], "rows": [[...], ...]} with every value as DuckDB's text of it (NULL as
null). With RESULT.parquet (what `trailhound query --format parquet` wrote for the same query),
prints {"duckdb": ..., "trailhound": ...}, both in that form, so the caller compares like with like.

DuckDB has no regexp_like (polars SQL, Athena and Trino do): the session defines it as a macro
over regexp_matches, which has the same meaning (the pattern matches anywhere in the text).
Times are shown in UTC.
"""
import json
import sys

import duckdb


def connect(lake):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)")
    for table in ("events", "sessions"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet("
            f"'{lake}/{table}/**/*.parquet', hive_partitioning = true)"
        )
    return con


def as_text(con, relation):
    cols = relation.columns
    text = con.sql(
        "SELECT " + ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols) + " FROM relation"
    )
    return {"columns": cols, "rows": [list(r) for r in text.fetchall()]}


def main():
    lake, sql_file = sys.argv[1], sys.argv[2]
    con = connect(lake)
    with open(sql_file, encoding="utf-8") as f:
        sql = f.read()
    relation = con.sql(sql)
    ours = as_text(con, relation)
    if len(sys.argv) > 3:
        theirs = con.read_parquet(sys.argv[3])
        print(json.dumps({"duckdb": ours, "trailhound": as_text(con, theirs)}))
    else:
        print(json.dumps(ours))


if __name__ == "__main__":
    main()
