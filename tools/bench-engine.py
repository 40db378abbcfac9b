#!/usr/bin/env python3
"""Peak memory and time of the streaming engine: `hunt` on generated corpora of growing size,
and nightly `report` runs with a week and with a month of history stored.

    tools/bench-engine.py [--bin target/release/trailhound] [--work /tmp/th-bench]
                          [--sizes 1000000,4000000,16000000] [--skip-nights] [--repeat N]
                          [--stored 7,30] [--report-args '--block-days 90']

Corpora are generated once into --work (about 330 MB gzipped per million events) and reused.
Prints one line per measurement: wall time, peak RSS of the measured process, events/s.
Nothing here is a test: figures are printed, never asserted.

Each night is run --repeat times (default 5) on a fresh copy of the stored state, each run
followed by the `hunt` over the same night's data alone, and the medians are printed with the
night / hunt ratio of the medians: on a shared machine one pair of runs can be 15% apart.
"""
import argparse
import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
import time


def measure(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (exit code, wall seconds, peak RSS in MB, stderr text)."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    _, err = p.communicate()
    # wait4 has been done by communicate(); the child's rusage is in RUSAGE_CHILDREN only as
    # a maximum over all children, so run each measurement through /usr/bin/time when present.
    return p.returncode, time.monotonic() - t, err.decode(errors="replace")


CPU = {}


def timed(cmd):
    """Runs cmd under GNU time; returns (code, wall s, peak RSS MB, stderr). The CPU seconds
    (user + system) of the run are left in CPU["last"]."""
    CPU["last"] = None
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        full = ["/usr/bin/time", "-f", "@@%e %M %U %S"] + cmd
        code, wall, err = measure(full)
        rss = None
        for line in err.splitlines():
            if line.startswith("@@"):
                w, m, u, sy = line[2:].split()
                wall, rss = float(w), int(m) / 1024
                CPU["last"] = float(u) + float(sy)
        return code, wall, rss, err
    code, wall, err = measure(cmd)
    return code, wall, None, err


def events_in(err):
    for line in err.splitlines():
        if " events, " in line and "files (" in line:
            return int(line.split(" events, ")[0].rsplit(" ", 1)[-1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/trailhound")
    ap.add_argument("--work", default="/tmp/th-bench")
    ap.add_argument("--sizes", default="1000000,4000000,16000000")
    ap.add_argument("--skip-nights", action="store_true")
    ap.add_argument("--only-nights", action="store_true", help="skip hunt/summary/sessions")
    ap.add_argument("--stored", default="7,30", help="days stored before the measured night")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs of each night and of its hunt (interleaved; medians printed)")
    ap.add_argument("--report-args", default="",
                    help="more arguments of every `report` run (storing and nights), e.g. "
                         "'--block-days 90'")
    a = ap.parse_args()
    more = shlex.split(a.report_args)
    os.makedirs(a.work, exist_ok=True)
    print(f"{'measurement':44} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'events':>10} {'events/s':>10}")

    def line(label, wall, rss, events):
        eps = f"{events / wall:10.0f}" if events and wall else f"{'-':>10}"
        rss_s = f"{rss:8.0f}" if rss is not None else f"{'-':>8}"
        cpu = f"{CPU['last']:8.2f}" if CPU.get("last") is not None else f"{'-':>8}"
        ev = f"{events:10d}" if events else f"{'-':>10}"
        print(f"{label:44} {wall:8.2f} {cpu} {rss_s} {ev} {eps}", flush=True)

    corpora = {}
    for n in [int(x) for x in a.sizes.split(",") if x]:
        d = os.path.join(a.work, f"corpus-{n}")
        if not os.path.isdir(d) or not os.listdir(d):
            t = time.monotonic()
            subprocess.run([a.bin, "generate", "-q", "--events", str(n), "--out", d], check=True)
            print(f"(generated {d} in {time.monotonic() - t:.0f}s)", flush=True)
        corpora[n] = d
        if a.only_nights:
            continue
        for cmd, label in [
            (["summary", "--format", "json"], "summary"),
            (["hunt", "--format", "ndjson", "--fail-on", "critical"], "hunt"),
            (["sessions", "--format", "ndjson"], "sessions"),
        ]:
            code, wall, rss, err = timed([a.bin] + cmd + [d])
            line(f"{label} {n:,} events", wall, rss, events_in(err))

    if a.skip_nights:
        return
    # Nightly runs over the largest corpus with at least 31 days (or the largest there is).
    n = max(corpora)
    d = corpora[n]
    start = dt.date(2026, 3, 2)
    for stored in [int(x) for x in a.stored.split(",") if x]:
        state = os.path.join(a.work, f"state-{n}-{stored}")
        shutil.rmtree(state, ignore_errors=True)
        night = start + dt.timedelta(days=stored)
        if night > start + dt.timedelta(days=90):
            break
        first = [a.bin, "report", "--format", "json", "--out", os.devnull, "--state", state,
                 "--until", night.isoformat(), *more, d]
        code, wall, rss, err = timed(first)
        line(f"report: store {stored} days", wall, rss, None)
        # The same days in one `hunt`: a first report holds every session of its backlog until
        # it judges (a bounded `hunt` does not), so this pair shows what that costs.
        code, wall, rss, err = timed([a.bin, "hunt", "--format", "ndjson", "--fail-on",
                                      "critical", "--until", night.isoformat(), d])
        line(f"hunt over the same {stored} days", wall, rss, events_in(err))
        nxt = night + dt.timedelta(days=1)
        # The night and the hunt over its data alone, one after the other, --repeat times;
        # each night goes on from a fresh copy of the stored state.
        runs = {"night": [], "hunt": []}
        new = None
        scratch = state + "-night"
        for _ in range(max(1, a.repeat)):
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(state, scratch)
            cmd = [a.bin, "report", "--format", "json", "--out", os.devnull, "--state", scratch,
                   "--until", nxt.isoformat(), *more, d]
            code, wall, rss, err = timed(cmd)
            for l in err.splitlines():
                if "new events judged" in l:
                    new = int(l.split(" new events judged")[0].rsplit(" ", 1)[-1])
            runs["night"].append((wall, CPU["last"], rss))
            code, wall, rss, err = timed([a.bin, "hunt", "--format", "ndjson", "--fail-on",
                                          "critical", "--since", night.isoformat(), "--until",
                                          nxt.isoformat(), d])
            hunt_events = events_in(err)
            runs["hunt"].append((wall, CPU["last"], rss))
        shutil.rmtree(scratch, ignore_errors=True)

        def median(kind, i):
            xs = sorted(r[i] for r in runs[kind] if r[i] is not None)
            return xs[len(xs) // 2] if xs else None

        n = len(runs["night"])
        for kind, label, events in [
            ("night", f"report: night {stored + 1} ({stored} days stored)", new),
            ("hunt", f"hunt over night {stored + 1} alone", hunt_events),
        ]:
            CPU["last"] = median(kind, 1)
            line(f"{label}, median of {n}", median(kind, 0), median(kind, 2), events)
        night_wall, hunt_wall = median("night", 0), median("hunt", 0)
        if not new or not hunt_wall:
            print(f"  night {stored + 1} holds no new events: the corpus ends before it "
                  "(measure a larger corpus)", flush=True)
            continue
        ratio = f"night / hunt (medians): {night_wall / hunt_wall:.2f} wall"
        night_cpu, hunt_cpu = median("night", 1), median("hunt", 1)
        if night_cpu and hunt_cpu:
            ratio += f", {night_cpu / hunt_cpu:.2f} CPU"
        walls = ", ".join(f"{x[0]:.2f}/{y[0]:.2f}" for x, y in zip(runs["night"], runs["hunt"]))
        print(f"  {ratio} (target: at most 1.5); each pair, night/hunt wall s: {walls}",
              flush=True)

if __name__ == "__main__":
    sys.exit(main())
