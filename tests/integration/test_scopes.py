"""Scopes: cgroups, process trees under fork storms, pid reuse, several experiments at once."""
import collections
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BIN, BURN, TempDirTest, monitor, needs_bpf, read_report  # noqa: E402

V2 = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified/") and \
    os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def experiment_cpu(rows, exp):
    return sum(float(r["on_cpu_seconds"]) for r in rows if exp in r["experiment_id"].split(";"))


@needs_bpf
class Scopes(TempDirTest):
    def test_cgroup_scope_matches_cpu_stat(self):
        """Acceptance 1: a burner in a new cgroup v2; the scope's on-CPU seconds within 2% of
        the cgroup's own cpu.stat usage."""
        if not os.path.exists(os.path.join(V2, "cgroup.procs")):
            self.skipTest("no cgroup v2 hierarchy mounted")
        name = "carbonbpf-test-%d" % os.getpid()
        cg = os.path.join(V2, name)
        os.mkdir(cg)
        try:
            # The command moves itself into the cgroup, then becomes two burners.
            script = "echo $$ > %s/cgroup.procs; %s --seconds 2 & %s --seconds 2 --duty 0.4 & wait" % (
                cg, BURN, BURN)
            r = monitor(self.dir, "--measure-power-secs", "0.5", "--cgroup", "/" + name + "=exp-cg",
                        "--", "sh", "-c", script)
            with open(os.path.join(cg, "cpu.stat")) as f:
                usage_s = int(dict(l.split() for l in f)["usage_usec"]) / 1e6
        finally:
            os.rmdir(cg)
        self.assertEqual(r.rc, 0, r.stderr)
        rows = r.rows("processes.csv")
        got = experiment_cpu(rows, "exp-cg")
        self.assertGreater(usage_s, 2.0)
        self.assertAlmostEqual(got, usage_s, delta=usage_s * 0.02,
                               msg="scope %.4f s vs cpu.stat %.4f s" % (got, usage_s))
        self.assertTrue(all(x["cgroup"] == "/" + name for x in rows if "exp-cg" in x["experiment_id"]))

    def test_fork_storm_is_attributed(self):
        """Acceptance 2: 2,000 children living 1-5 ms each; >= 99% of their CPU time (from
        the parent's rusage of its children) lands in the scope."""
        rep = self.path("r.txt")
        r = monitor(self.dir, "--measure-power-secs", "1", "--quiet", "--", BURN, "--children", "2000",
                    "--child-ms", "1", "--child-ms-max", "5", "--report", rep, timeout=300)
        self.assertEqual(r.rc, 0, r.stderr)
        rp = read_report(rep)
        parent = int(rp["pid"])
        kids = set(int(p) for p in rp["child_pids"].split(","))
        self.assertEqual(len(kids), 2000)
        rows = [x for x in r.rows("processes.csv") if x["experiment_id"]]
        got = sum(float(x["on_cpu_seconds"]) for x in rows if int(x["pid"]) != parent)
        seen = set(int(x["pid"]) for x in rows) & kids
        want = float(rp["children_cpu_s"])
        self.assertGreaterEqual(got, 0.99 * want, "children: %.4f s attributed of %.4f s" % (got, want))
        self.assertLessEqual(got, 1.02 * want)
        self.assertGreaterEqual(len(seen), 1990)

    def test_reused_pid_is_another_process(self):
        """Acceptance 3: pid reuse forced through ns_last_pid gives two rows with different
        start times, each with its own time."""
        mon = subprocess.Popen([BIN, "monitor", "--quiet", "--measure-power-secs", "0.5", "--duration", "5",
                                "--output-dir", self.dir], cwd=self.dir, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        try:
            for attempt in range(20):
                first = subprocess.Popen([BURN, "--seconds", "0.3"])
                first.wait()
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(first.pid - 1))
                second = subprocess.Popen([BURN, "--seconds", "0.6"])
                second.wait()
                if second.pid == first.pid:
                    break
            else:
                self.fail("could not get the same pid twice")
        finally:
            _, err = mon.communicate(timeout=30)
        self.assertEqual(mon.returncode, 0, err)
        per_start = collections.defaultdict(float)
        for x in monitor_rows(self.dir):
            if int(x["pid"]) == first.pid and x["comm"] == "burn":
                per_start[x["start_time_ticks"]] += float(x["on_cpu_seconds"])
        self.assertEqual(len(per_start), 2, per_start)
        times = sorted(per_start.values())
        self.assertAlmostEqual(times[0], 0.3, delta=0.06)
        self.assertAlmostEqual(times[1], 0.6, delta=0.1)

    def test_two_experiments_and_an_outsider(self):
        """Acceptance 4: a process tree on one experiment, a uid rule on another, a process
        outside both; the parent and its child both named in one scope count once."""
        ra, rb, rc = self.path("a"), self.path("b"), self.path("c")
        tree = subprocess.Popen(["sh", "-c", "%s --seconds 2.5 --report %s & wait" % (BURN, ra)])
        time.sleep(0.2)
        with open("/proc/%d/task/%d/children" % (tree.pid, tree.pid)) as f:
            child = int(f.read().split()[0])
        other_user = subprocess.Popen(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                       BURN, "--seconds", "2.5", "--duty", "0.5", "--report", rb])
        outsider = subprocess.Popen([BURN, "--seconds", "2.5", "--duty", "0.3", "--report", rc])
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--duration", "2", "--intervals-file", "iv.csv",
                    "--pid", "%d=exp-a" % tree.pid, "--pid", "%d=exp-a" % child, "--uid", "65534=exp-b")
        for p in (tree, other_user, outsider):
            p.wait()
        self.assertEqual(r.rc, 0, r.stderr)
        rows = r.rows("processes.csv")
        by_exp = collections.defaultdict(float)
        pids_of = collections.defaultdict(set)
        for x in rows:
            for e in x["experiment_id"].split(";") if x["experiment_id"] else ["(none)"]:
                by_exp[e] += int(x["cpu_energy_uj"]) + int(x["ram_energy_uj"])
                pids_of[e].add(int(x["pid"]))
        a_pid, b_pid, c_pid = (int(read_report(p)["pid"]) for p in (ra, rb, rc))
        self.assertIn(a_pid, pids_of["exp-a"])
        self.assertIn(child, pids_of["exp-a"])
        self.assertIn(b_pid, pids_of["exp-b"])
        self.assertNotIn(c_pid, pids_of["exp-a"] | pids_of["exp-b"])
        self.assertIn(c_pid, pids_of["(none)"])
        # emissions.csv: one row per experiment, equal to its processes (each counted once)
        em = {x["experiment_id"]: x for x in r.rows("emissions.csv")}
        self.assertEqual(set(em), {"exp-a", "exp-b"})
        for e in ("exp-a", "exp-b"):
            kwh = float(em[e]["energy_consumed"])
            self.assertAlmostEqual(kwh, by_exp[e] / 3.6e12, delta=kwh * 1e-9)
            self.assertEqual(em[e]["tracking_mode"], "process")
        # the terminal table of each experiment shows the same total as its emissions.csv row
        for e in ("exp-a", "exp-b"):
            section = r.stdout[r.stdout.index("experiment %s:" % e):]
            total = [l for l in section.splitlines() if "EXPERIMENT TOTAL" in l][0]
            self.assertAlmostEqual(float(total.split()[3]), float(em[e]["energy_consumed"]) * 3.6e6,
                                   delta=0.0015)
        # machine totals: every process once, plus idle and unattributed, is all the energy
        machine = sum(int(d["energy_uj"]) for d in r.rows("iv.csv"))
        procs = sum(int(x["cpu_energy_uj"]) + int(x["ram_energy_uj"]) for x in rows)
        rest = sum(int(d["idle_uj"]) + int(d["unattributed_uj"]) for d in r.rows("iv.csv"))
        self.assertEqual(procs + rest, machine)


def monitor_rows(d):
    import csv
    with open(os.path.join(d, "processes.csv"), newline="") as f:
        return list(csv.DictReader(f))


@needs_bpf
class ScopeConfig(TempDirTest):
    def test_scope_sections_in_the_config_file(self):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\nexperiment_id = exp-default\n\n[scope:burners]\n"
                    "experiment_id = exp-burn\ncomm = burn\n")
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--", BURN, "--seconds", "1")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual({x["experiment_id"] for x in r.rows("emissions.csv")}, {"exp-default", "exp-burn"})
        self.assertIn("experiment exp-burn: --comm burn", r.stdout)

    def test_unknown_key_in_a_scope_section(self):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\n[scope:x]\ncommand = burn\n")
        r = monitor(self.dir, "--", "true")
        self.assertEqual(r.rc, 2)
        self.assertIn("unknown key 'command'", r.stderr)
        self.assertIn(":3", r.stderr)


if __name__ == "__main__":
    unittest.main()
