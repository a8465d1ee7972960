#!/usr/bin/env python3
"""A /proc-sampling CPU attributor, the approach of Scaphandre and Kepler 0.10+, for comparison.

Every --interval seconds it reads utime+stime of every /proc/PID/stat and attributes to each
process (pid, start time) the growth since its previous reading. A process first seen after
the sampler started is credited with all its CPU time so far (the generous choice, as Kepler
does); one that exits between two polls loses what it used since the last poll, and one that
lives and dies between two polls is never seen. Stops on SIGTERM/SIGINT after a last poll and
writes JSON: [{pid, start_ticks, comm, cpu_s, polls}].
"""
import argparse
import json
import os
import signal
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
stop = False


def on_signal(signum, frame):
    global stop
    stop = True


def boot_ticks_now():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * CLK_TCK


def poll():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read().decode("ascii", "replace")
        except OSError:
            continue
        rp = s.rfind(")")
        comm = s[s.find("(") + 1:rp]
        fields = s[rp + 2:].split()
        # fields[0] is field 3 (state): utime 14, stime 15, starttime 22
        ticks = int(fields[11]) + int(fields[12])
        start = int(fields[19])
        out[(int(d), start)] = (comm, ticks)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_start = boot_ticks_now()
    last = {}
    acc = {}
    nxt = time.monotonic()
    while True:
        cur = poll()
        for key, (comm, ticks) in cur.items():
            if key in last:
                base = last[key][1]
            elif key[1] >= t_start:
                base = 0
            else:
                base = ticks  # running before we started: nothing of the past is ours
            e = acc.setdefault(key, {"pid": key[0], "start_ticks": key[1], "comm": comm,
                                     "ticks": 0, "polls": 0})
            e["ticks"] += ticks - base
            e["comm"] = comm
            e["polls"] += 1
        last = cur
        if stop:
            break
        nxt += a.interval
        while not stop and time.monotonic() < nxt:
            time.sleep(max(0.0, min(0.05, nxt - time.monotonic())))
    res = []
    for e in acc.values():
        e["cpu_s"] = e.pop("ticks") / CLK_TCK
        res.append(e)
    with open(a.out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
