"""carbonbpf monitor end to end: real processes, real scheduler events, CSV outputs."""
import collections
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BURN, FAKE_POWERCAP, TempDirTest, monitor, needs_bpf, read_report  # noqa: E402


def cpu_by_pid(rows):
    total = collections.defaultdict(float)
    for r in rows:
        total[int(r["pid"])] += float(r["on_cpu_seconds"])
    return total


@needs_bpf
class MonitorCommand(TempDirTest):
    def test_two_burners_match_kernel_accounting(self):
        """Acceptance 2: a 100% and a 50% duty burner, each within 2% of its utime+stime."""
        a, b = self.path("a.txt"), self.path("b.txt")
        script = "%s --seconds 3 --report %s & %s --seconds 3 --duty 0.5 --report %s & wait" % (
            BURN, a, BURN, b)
        r = monitor(self.dir, "--measure-power-secs", "1", "--", "sh", "-c", script)
        self.assertEqual(r.rc, 0, r.stderr)
        got = cpu_by_pid(r.rows("processes.csv"))
        for rep, duty in ((a, 1.0), (b, 0.5)):
            rp = read_report(rep)
            want = float(rp["cpu_s"])
            have = got[int(rp["pid"])]
            self.assertGreater(want, 3 * duty * 0.6, "burner did not get its CPU")
            self.assertAlmostEqual(have, want, delta=want * 0.02,
                                   msg="pid %s: carbonbpf %.4f s vs /proc %.4f s" % (rp["pid"], have, want))

    def test_never_sleeping_process_gets_every_interval(self):
        """Acceptance 3: a CPU-bound process is charged in every interval, not when it switches out."""
        rep = self.path("r.txt")
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--intervals-file", "intervals.csv",
                    "--", BURN, "--seconds", "3.2", "--report", rep)
        self.assertEqual(r.rc, 0, r.stderr)
        rp = read_report(rep)
        pid = int(rp["pid"])
        durations = {int(x["interval"]): float(x["duration_s"]) for x in r.rows("intervals.csv")}
        mine = {int(x["interval"]): float(x["on_cpu_seconds"])
                for x in r.rows("processes.csv") if int(x["pid"]) == pid}
        middle = sorted(durations)[1:-1]  # the first and last hold its start and exit
        self.assertGreaterEqual(len(middle), 4)
        for i in middle:
            self.assertIn(i, mine, "interval %d has no row for the burner" % i)
            # One of two CPUs is free, so it runs most of every interval; more than half
            # even on a machine busy with other work. Charged only at switches, some
            # intervals would show nothing and another a lump above its length.
            self.assertGreater(mine[i], 0.5 * durations[i],
                               "interval %d: %.3f s of %.3f s" % (i, mine[i], durations[i]))
            self.assertLessEqual(mine[i], durations[i] * 1.01 + 0.002)
        want = float(rp["cpu_s"])
        self.assertAlmostEqual(sum(mine.values()), want, delta=want * 0.02)

    def test_short_lived_child_is_counted(self):
        """Acceptance 4: a child living ~5 ms appears with non-zero CPU time."""
        rep = self.path("r.txt")
        r = monitor(self.dir, "--measure-power-secs", "1", "--", BURN, "--children", "1",
                    "--child-ms", "5", "--report", rep)
        self.assertEqual(r.rc, 0, r.stderr)
        child = int(read_report(rep)["child_pids"])
        got = cpu_by_pid(r.rows("processes.csv"))
        self.assertIn(child, got)
        self.assertGreater(got[child], 0.004)

    def test_exit_code_is_the_commands(self):
        r = monitor(self.dir, "--quiet", "--", "sh", "-c", "exit 3")
        self.assertEqual(r.rc, 3, r.stderr)
        r = monitor(self.dir, "--quiet", "--", "/nonexistent/command")
        self.assertEqual(r.rc, 127, r.stderr)
        self.assertIn("cannot run /nonexistent/command", r.stderr)

    def test_emissions_row_matches_processes(self):
        """emissions.csv: 38 columns, process mode, energy = the tracked processes' sum."""
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--country-iso-code", "FR",
                    "--", BURN, "--seconds", "1.5")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(len(r.header("emissions.csv")), 38)
        (row,) = r.rows("emissions.csv")
        self.assertEqual(row["tracking_mode"], "process")
        self.assertEqual(row["country_iso_code"], "FRA")
        self.assertEqual(row["gpu_power"], "")  # not measured: empty, column kept
        tracked = [x for x in r.rows("processes.csv") if x["experiment_id"]]
        cpu_kwh = sum(float(x["cpu_energy_kwh"]) for x in tracked)
        ram_kwh = sum(float(x["ram_energy_kwh"]) for x in tracked)
        self.assertGreater(cpu_kwh, 0)
        self.assertAlmostEqual(float(row["cpu_energy"]), cpu_kwh, delta=cpu_kwh * 1e-9)
        self.assertAlmostEqual(float(row["ram_energy"]), ram_kwh, delta=ram_kwh * 1e-9)
        kg = (cpu_kwh + ram_kwh) * 56.039 / 1000
        self.assertAlmostEqual(float(row["emissions"]), kg, delta=kg * 1e-9)
        self.assertIn("ENERGY IS ESTIMATED", r.stdout)
        self.assertIn("country FRA", r.stdout)

    def test_report_shares_add_up(self):
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--top", "2", "--", "sh", "-c",
                    "%s --seconds 1 & %s --seconds 1 --duty 0.3 & %s --seconds 0.5 & wait" % (BURN, BURN, BURN))
        self.assertEqual(r.rc, 0, r.stderr)
        lines = r.stdout.splitlines()
        start = next(i for i, l in enumerate(lines) if l.strip().startswith("PID"))
        rows, total = [], None
        for l in lines[start + 1:]:
            if "EXPERIMENT TOTAL" in l:
                total = l
                break
            rows.append(l)
        self.assertIn("others)", "".join(rows))
        def nums(l):
            return [float(x.rstrip("%")) for x in l.split()[-4:]]
        sums = [round(sum(nums(l)[k] for l in rows), 6) for k in range(4)]
        self.assertEqual(sums[0], nums(total)[0])
        self.assertAlmostEqual(sums[1], nums(total)[1], places=6)
        self.assertAlmostEqual(sums[2], 100.0, places=6)
        self.assertAlmostEqual(sums[3], nums(total)[3], places=6)


@needs_bpf
class MonitorPidAndMachine(TempDirTest):
    def test_pid_tree_followed_until_it_exits(self):
        """--pid follows children born after the start and stops when the tree is gone."""
        rep = self.path("r.txt")
        tree = subprocess.Popen(["sh", "-c", "sleep 1; %s --seconds 1 --report %s" % (BURN, rep)])
        r = monitor(self.dir, "--measure-power-secs", "0.5", "--pid", str(tree.pid), timeout=30)
        tree.wait()
        self.assertEqual(r.rc, 0, r.stderr)
        pid = int(read_report(rep)["pid"])
        rows = [x for x in r.rows("processes.csv") if int(x["pid"]) == pid]
        self.assertTrue(rows)
        self.assertTrue(all(x["experiment_id"] for x in rows))
        (row,) = r.rows("emissions.csv")
        self.assertEqual(row["tracking_mode"], "process")

    def test_sigint_writes_the_files_and_exits_0(self):
        import signal
        from cbtest import BIN
        p = subprocess.Popen([BIN, "monitor", "--measure-power-secs", "0.5", "--output-dir", self.dir],
                             cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, err)
        with open(self.path("emissions.csv")) as f:
            self.assertEqual(len(f.read().splitlines()), 2)
        self.assertIn("TOTAL", out)
        # with a command: the signal is passed on and the exit code says so
        p = subprocess.Popen([BIN, "monitor", "--quiet", "--output-dir", self.dir, "--", "sleep", "30"],
                             cwd=self.dir, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, err)

    def test_machine_mode_with_duration(self):
        r = monitor(self.dir, "--duration", "1.2", "--measure-power-secs", "0.5")
        self.assertEqual(r.rc, 0, r.stderr)
        (row,) = r.rows("emissions.csv")
        self.assertEqual(row["tracking_mode"], "machine")
        self.assertAlmostEqual(float(row["duration"]), 1.2, delta=0.3)
        self.assertIn("(idle)", r.stdout)
        self.assertIn("world average", r.stdout)


def check_conservation(test, r):
    """Per interval and domain: attributed + unattributed + idle == energy, and the
    processes' rows add up to the attributed energy exactly (integer microjoules)."""
    per_iv = collections.defaultdict(lambda: [0, 0])
    for x in r.rows("processes.csv"):
        per_iv[int(x["interval"])][0] += int(x["cpu_energy_uj"])
        per_iv[int(x["interval"])][1] += int(x["ram_energy_uj"])
    dom = collections.defaultdict(lambda: [0, 0])
    n = 0
    for d in r.rows("intervals.csv"):
        n += 1
        e = int(d["energy_uj"])
        test.assertEqual(int(d["attributed_uj"]) + int(d["unattributed_uj"]) + int(d["idle_uj"]), e, d)
        dom[int(d["interval"])][1 if d["domain"] in ("dram", "ram-model") else 0] += int(d["attributed_uj"])
    test.assertGreater(n, 2)
    for iv, (cpu, ram) in dom.items():
        test.assertEqual(per_iv[iv][0], cpu, "interval %d cpu" % iv)
        test.assertEqual(per_iv[iv][1], ram, "interval %d ram" % iv)
    return dom


@needs_bpf
class Conservation(TempDirTest):
    def test_model_energy_is_conserved(self):
        """Acceptance 6 on this machine's CPU-load model, both idle policies."""
        for policy in ("busy", "capacity"):
            sub = self.path(policy)
            os.mkdir(sub)
            r = monitor(sub, "--measure-power-secs", "0.3", "--idle-policy", policy,
                        "--intervals-file", "intervals.csv", "--duration", "1.5", "--quiet")
            self.assertEqual(r.rc, 0, r.stderr)
            check_conservation(self, r)

    def test_two_socket_powercap_energy_is_conserved(self):
        """Acceptance 6 with real BPF data and a fake two-socket RAPL tree whose counters
        advance while it runs: each package's energy is split over its own CPU's processes."""
        root = self.path("sys")
        subprocess.run([sys.executable, FAKE_POWERCAP, root, "--socket", "0", "--socket", "1",
                        "--dram", "--cpus-per-socket", "1"], check=True)
        stop = threading.Event()

        def advance():
            while not stop.is_set():
                subprocess.run([sys.executable, FAKE_POWERCAP, root, "--advance", "package-0=700001",
                                "--advance", "package-1=300007", "--advance", "dram=50003"], check=True)
                time.sleep(0.05)
        t = threading.Thread(target=advance)
        t.start()
        try:
            cfg = self.path(".codecarbon.config")
            with open(cfg, "w") as f:
                f.write("[codecarbon]\nrapl_include_dram = true\n")
            r = monitor(self.dir, "--sysfs-root", root, "--measure-power-secs", "0.4",
                        "--intervals-file", "intervals.csv", "--", BURN, "--seconds", "2",
                        "--threads", "2")
        finally:
            stop.set()
            t.join()
        self.assertEqual(r.rc, 0, r.stderr)
        names = {d["domain"] for d in r.rows("intervals.csv")}
        self.assertTrue({"package-0", "package-1"} <= names, names)
        pkgs = {d["domain"]: d["package"] for d in r.rows("intervals.csv")}
        self.assertEqual((pkgs["package-0"], pkgs["package-1"]), ("0", "1"))
        self.assertNotIn("ENERGY IS ESTIMATED", r.stdout)
        check_conservation(self, r)


if __name__ == "__main__":
    unittest.main()
