#!/usr/bin/env python3
"""Reference Sigma counts: how many records each rule matches, by pySigma's SQLite backend.

Each rule is converted to SQL by pySigma (2.0.1) and pySigma-backend-sqlite (2.1.1), the
converter behind Zircolite, and run over the records loaded into an in-memory SQLite table the
way Zircolite loads them: nested objects flattened into dotted column names, every column
`TEXT COLLATE NOCASE`, booleans as 'true'/'false', lists as their JSON text.

    python reference.py --rules DIR_OR_FILE... --logs FILE...

Log files: {"Records": [...]}, a top-level JSON array, or one record per line. The records are
the ones trailhound reads as events: those without an ISO 8601 `eventTime` are left out, and of
records that are the same event by trailhound's key (time, eventID, account, source, name,
caller, key, address, request id, error, issued key) only the first, in file order, is kept.

Prints one JSON object: {"records": N, "counts": {rule_id: n}, "skipped": {file: reason}}, with
rule_id the rule's `id` (its file name when it has none), and only rules for
`logsource: product: aws, service: cloudtrail`.
"""

import argparse
import datetime
import json
import pathlib
import re
import sqlite3
import sys

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule


def records_of(path):
    text = pathlib.Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{\"Records\""):
        doc = json.loads(text)
        return doc if isinstance(doc, list) else doc.get("Records", [])
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            return doc["Records"]
        return [doc]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


ISSUING = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity",
           "GetSessionToken", "GetFederationToken"}


def millis(text):
    if not isinstance(text, str):
        return None
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp() * 1000)


def event_key(rec, ms):
    """trailhound's `Event::sort_key`: two records with the same key are one event."""
    def s(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float, str)) and v != "":
            return str(v)
        return None

    ident = rec.get("userIdentity") if isinstance(rec.get("userIdentity"), dict) else {}
    issued = None
    if rec.get("eventSource") == "sts.amazonaws.com" and rec.get("eventName") in ISSUING:
        resp = rec.get("responseElements")
        creds = resp.get("credentials") if isinstance(resp, dict) else None
        issued = s(creds.get("accessKeyId")) if isinstance(creds, dict) else None
    return (ms, s(rec.get("eventID")), s(rec.get("recipientAccountId")),
            s(rec.get("eventSource")), s(rec.get("eventName")), s(ident.get("arn")),
            s(ident.get("accessKeyId")), s(rec.get("sourceIPAddress")),
            s(rec.get("requestID")), s(rec.get("errorCode")), issued)


def flatten(value, prefix, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}{k}.", out)
        return
    key = prefix[:-1]
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, list):
        value = json.dumps(value)
    out[key] = value


def rule_files(paths):
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in (".yml", ".yaml"))
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", nargs="+", required=True)
    ap.add_argument("--logs", nargs="+", required=True)
    args = ap.parse_args()

    rows, seen = [], set()
    for path in args.logs:
        for rec in records_of(path):
            ms = millis(rec.get("eventTime")) if isinstance(rec, dict) else None
            if ms is None:
                continue
            key = event_key(rec, ms)
            if key in seen:
                continue
            seen.add(key)
            flat = {}
            flatten(rec, "", flat)
            rows.append(flat)

    backend = sqliteBackend()
    queries, skipped = {}, {}
    for f in rule_files(args.rules):
        try:
            coll = SigmaCollection.from_yaml(f.read_text(encoding="utf-8"))
            rules = [r for r in coll.rules if not isinstance(r, SigmaCorrelationRule)]
            if len(rules) != 1:
                skipped[str(f)] = f"{len(coll.rules)} rules in the file"
                continue
            rule = rules[0]
            ls = rule.logsource
            if (ls.product or "").lower() != "aws" or (ls.service or "").lower() != "cloudtrail":
                skipped[str(f)] = "not for CloudTrail"
                continue
            sql = backend.convert_rule(rule)
            rid = str(rule.id) if rule.id else f.stem
            queries[rid] = (sql, backend.required_fields(rule))
        except Exception as e:  # the reference names what it could not convert
            skipped[str(f)] = f"{type(e).__name__}: {e}"

    # One NOCASE column per name, case-insensitively (SQLite's identifiers ignore case).
    columns = {}
    for r in rows:
        for k in r:
            columns.setdefault(k.lower(), k)
    for _, fields in queries.values():
        for k in fields:
            columns.setdefault(k.lower(), k)
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None
    )
    names = list(columns.values())
    quoted = ", ".join(f"`{n}` TEXT COLLATE NOCASE" for n in names)
    db.execute(f"CREATE TABLE logs ({quoted})")
    index = {n.lower(): i for i, n in enumerate(names)}
    holes = ", ".join("?" for _ in names)
    for r in rows:
        vals = [None] * len(names)
        for k, v in r.items():
            i = index[k.lower()]
            if vals[i] is None:
                vals[i] = v
        db.execute(f"INSERT INTO logs VALUES ({holes})", vals)

    counts = {}
    for rid, (sql, _) in sorted(queries.items()):
        n = 0
        for q in sql:
            n += db.execute(f"SELECT COUNT(*) FROM ({q})").fetchone()[0]
        counts[rid] = n
    json.dump({"records": len(rows), "counts": counts, "skipped": skipped}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
