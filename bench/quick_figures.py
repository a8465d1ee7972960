#!/usr/bin/env python3
"""Prints the figures behind two acceptance checks: two CPU burners (100% and 50% duty) under
`carbonbpf monitor -- ...` against their own /proc utime+stime, and a fork storm of 2,000
children (1-5 ms each) against the parent's rusage of them. As root, after `make`:

    python3 bench/quick_figures.py
"""
import collections
import csv
import os
import subprocess
import tempfile
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "carbonbpf")
BURN = os.path.join(ROOT, "build", "tools", "burn")
def rep(p): return dict(l.strip().split("=",1) for l in open(p) if "=" in l)
d=tempfile.mkdtemp()
a,b=d+"/a",d+"/b"
subprocess.run([BIN,"monitor","--quiet","--measure-power-secs","1","--output-dir",d,"--","sh","-c",
  f"{BURN} --seconds 3 --report {a} & {BURN} --seconds 3 --duty 0.5 --report {b} & wait"],check=True)
rows=list(csv.DictReader(open(d+"/processes.csv")))
got=collections.defaultdict(float)
for r in rows: got[int(r["pid"])]+=float(r["on_cpu_seconds"])
for name,p in (("100% burner",a),("50% burner",b)):
    rp=rep(p); w=float(rp["cpu_s"]); h=got[int(rp["pid"])]
    print(f"{name}: carbonbpf {h:.4f} s, /proc utime+stime {w:.4f} s, error {100*(h-w)/w:+.2f}%")
d2=tempfile.mkdtemp(); r2=d2+"/r"
subprocess.run([BIN,"monitor","--quiet","--measure-power-secs","1","--output-dir",d2,"--",BURN,"--children","2000","--child-ms","1","--child-ms-max","5","--report",r2],check=True)
rp=rep(r2); parent=int(rp["pid"]); kids=set(map(int,rp["child_pids"].split(",")))
rows=[x for x in csv.DictReader(open(d2+"/processes.csv")) if x["experiment_id"]]
g=sum(float(x["on_cpu_seconds"]) for x in rows if int(x["pid"])!=parent)
seen=len(set(int(x["pid"]) for x in rows)&kids)
print(f"fork storm: {seen}/2000 children seen, {g:.4f} s attributed vs rusage {float(rp['children_cpu_s']):.4f} s ({100*g/float(rp['children_cpu_s']):.2f}%)")
