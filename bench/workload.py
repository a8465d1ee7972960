#!/usr/bin/env python3
"""Benchmark workload: a mix of burners run at once, with the kernel's own CPU figures of each.

Runs build/tools/burn under distinct names (busy loop, duty cycle, many threads, I/O waits,
300 short-lived forked children), a dd that writes with fsync, and short-lived exec'd
processes, all concurrently. For each process it records the kernel's accounting: the
rusage that wait4() returns (microseconds, the exact sum of the scheduler's runtime) and the
report burn writes (/proc/self/stat utime+stime, 10 ms ticks; children from getrusage).
Writes everything as JSON to --out.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def rusage_s(ru):
    return ru.ru_utime + ru.ru_stime


def read_report(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, eq, v = line.strip().partition("=")
                if not eq:
                    continue
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v  # e.g. a list of pids
    except OSError:
        pass
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--burn", required=True, help="path of build/tools/burn")
    ap.add_argument("--tmp", required=True, help="scratch directory")
    ap.add_argument("--out", required=True, help="JSON output")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--kids", type=int, default=300)
    ap.add_argument("--execs", type=int, default=200)
    ap.add_argument("--dd-mib", type=int, default=64)
    ap.add_argument("--cgroup", help="move this process into this cgroup v2 directory first")
    ap.add_argument("--wait-go", action="store_true", help="print 'waiting' and read a line from stdin before starting")
    a = ap.parse_args()

    if a.cgroup:
        with open(os.path.join(a.cgroup, "cgroup.procs"), "w") as f:
            f.write("0\n")
    os.makedirs(a.tmp, exist_ok=True)
    if a.wait_go:
        print("waiting", flush=True)
        sys.stdin.readline()

    s = str(a.seconds)
    specs = [
        ("burn_busy", ["--seconds", s, "--duty", "1"]),
        ("burn_duty30", ["--seconds", s, "--duty", "0.3"]),
        ("burn_threads8", ["--seconds", s, "--threads", "8", "--duty", "0.2"]),
        ("burn_iowait", ["--seconds", s, "--duty", "0.5", "--io-ms", "3"]),
        ("burn_kids", ["--children", str(a.kids), "--child-ms", "3"]),
    ]
    t0 = time.monotonic()
    running = {}
    for name, args in specs:
        link = os.path.join(a.tmp, name)  # the comm is the name exec'd: tells them apart
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(a.burn), link)
        rep = os.path.join(a.tmp, name + ".report")
        if os.path.exists(rep):
            os.unlink(rep)
        p = subprocess.Popen([link] + args + ["--report", rep])
        running[p.pid] = (name, rep, p)
    ddfile = os.path.join(a.tmp, "dd.out")
    p = subprocess.Popen(["dd", "if=/dev/zero", "of=" + ddfile, "bs=1M", "count=%d" % a.dd_mib,
                          "conv=fsync"], stderr=subprocess.DEVNULL)
    running[p.pid] = ("dd_fsync", None, p)

    # Short-lived exec'd processes, one after the other, each reaped with its own rusage.
    execs = []
    for _ in range(a.execs):
        pid = os.posix_spawn("/bin/true", ["true"], os.environ)
        _, status, ru = os.wait4(pid, 0)
        execs.append({"pid": pid, "cpu_s": rusage_s(ru)})

    procs = []
    while running:
        pid, status, ru = os.wait4(-1, 0)
        if pid not in running:
            continue
        name, rep, p = running.pop(pid)
        p.returncode = os.waitstatus_to_exitcode(status)
        r = read_report(rep) if rep else {}
        total = rusage_s(ru)
        kids = r.get("children_cpu_s", 0.0)
        procs.append({
            "name": name,
            "pid": pid,
            "exit": p.returncode,
            # wait4 rusage covers the process and its reaped children: take the children out.
            "rusage_s": total - kids,
            "proc_stat_s": r.get("cpu_s"),
            "children_s": kids,
            "child_pids": [int(x) for x in str(r.get("child_pids", "")).split(",") if x.strip().isdigit()],
        })
    t1 = time.monotonic()
    if os.path.exists(ddfile):
        os.unlink(ddfile)
    json.dump({"procs": procs, "execs": execs, "kids_comm": "burn_kids", "wall_s": t1 - t0,
               "self_pid": os.getpid()}, open(a.out, "w"), indent=1)
    return 0 if all(p["exit"] == 0 for p in procs) else 1


if __name__ == "__main__":
    sys.exit(main())
