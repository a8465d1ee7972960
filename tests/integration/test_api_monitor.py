"""carbonbpf monitor uploading to a local CodeCarbon-compatible server: sums, faults, resume."""
import csv
import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BIN, BURN, TempDirTest, needs_bpf  # noqa: E402
from test_api import EXP, PROJECT, TOKEN, USER_TOKEN, Server  # noqa: E402

EXP3 = "0c000000-0000-4000-8000-000000000003"


@needs_bpf
class MonitorUploads(TempDirTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.post("/_test/seed", {"experiments": [{"id": EXP3, "name": "e3", "project_id": PROJECT}]})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    @classmethod
    def post(cls, path, body):
        req = urllib.request.Request(cls.server.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def setUp(self):
        super().setUp()
        self.post("/_test/fault", {"mode": "none"})
        self.spool = self.path("spool")
        self.old_runs = set(self.run_ids(EXP) + self.run_ids(EXP3))

    def config(self, token=TOKEN, **extra):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\napi_endpoint = %s/\napi_key = %s\nexperiment_id = %s\n"
                    "spool_dir = %s\n" % (self.server.url, token, EXP, self.spool))
            for k, v in extra.items():
                f.write("%s = %s\n" % (k, v))
        os.chmod(self.path(".codecarbon.config"), 0o600)

    def run_monitor(self, *args, timeout=120):
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_")}
        env["HOME"] = self.dir
        return subprocess.run([BIN, "monitor", "--api", "--output-dir", self.dir] + list(args),
                              cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout)

    def run_ids(self, exp):
        return [r["id"] for r in self.server.get("/_test/runs?experiment_id=%s" % exp)]

    def emissions(self, exp):
        """This test's emissions of exp (the server is shared by the tests of the class)."""
        return [e for e in self.server.get("/_test/emissions?experiment_id=%s" % exp)
                if e["run_id"] not in self.old_runs]

    def csv_rows(self):
        with open(self.path("emissions.csv"), newline="") as f:
            return {r["experiment_id"]: r for r in csv.DictReader(f)}

    def spooled(self):
        n = 0
        for root, _, files in os.walk(self.spool):
            n += sum(1 for f in files if f.startswith("d") or "delta" in f)
        return n

    def test_two_experiments_sum_to_their_csv_rows(self):
        """Acceptance 1: per experiment, the uploaded deltas add up to its emissions.csv row."""
        self.config(api_call_interval=2)
        r = self.run_monitor("--measure-power-secs", "0.5", "--comm", "burn=" + EXP3, "--",
                             "sh", "-c", "%s --seconds 3.2 & %s --seconds 2 --duty 0.5 & wait" % (BURN, BURN))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.csv_rows()
        self.assertEqual(set(rows), {EXP, EXP3})
        for exp in (EXP, EXP3):
            em = self.emissions(exp)
            self.assertGreaterEqual(len(em), 3, "periodic and final deltas")
            row = rows[exp]
            self.assertEqual(sum(e["duration"] for e in em), math.ceil(float(row["duration"])))
            for api, col in (("emissions_sum", "emissions"), ("cpu_energy", "cpu_energy"),
                             ("ram_energy", "ram_energy"), ("energy_consumed", "energy_consumed")):
                want = float(row[col])
                got = sum(e[api] for e in em)
                self.assertAlmostEqual(got, want, delta=abs(want) * 1e-9, msg="%s %s" % (exp, api))
            self.assertTrue(all(e["duration"] > 0 for e in em))
            runs = [x for x in self.server.get("/_test/runs?experiment_id=%s" % exp)
                    if x["id"] not in self.old_runs]
            self.assertEqual(len(runs), 1)
            self.assertEqual(runs[0]["tracking_mode"], "process")

    def test_server_down_30s_then_back(self):
        """Acceptance 2: 503 for 30 s, then every delta arrives exactly once, in order."""
        self.config(api_call_interval=1)
        self.post("/_test/fault", {"mode": "503", "seconds": 30})
        r = self.run_monitor("--measure-power-secs", "1", "--duration", "33", "--quiet", timeout=200)
        self.assertEqual(r.returncode, 0, r.stderr)
        em = self.emissions(EXP)
        row = self.csv_rows()[EXP]
        self.assertEqual(sum(e["duration"] for e in em), math.ceil(float(row["duration"])))
        self.assertAlmostEqual(sum(e["emissions_sum"] for e in em), float(row["emissions"]),
                               delta=float(row["emissions"]) * 1e-9)
        stamps = [e["timestamp"] for e in em]
        self.assertEqual(stamps, sorted(stamps), "deltas out of order")
        self.assertGreaterEqual(len(em), 30)

    def test_sigkill_while_down_then_resume(self):
        """Acceptance 3: killed mid-run while the server is down; the next run sends the spool."""
        self.config(api_call_interval=1)
        self.post("/_test/fault", {"mode": "503", "seconds": 3600})
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_")}
        p = subprocess.Popen([BIN, "monitor", "--api", "--quiet", "--measure-power-secs", "0.5",
                              "--output-dir", self.dir], cwd=self.dir, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(4)
        p.send_signal(signal.SIGKILL)
        p.wait()
        before = len(self.emissions(EXP))
        self.post("/_test/fault", {"mode": "none"})
        r = self.run_monitor("--measure-power-secs", "0.5", "--duration", "1", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = [x for x in self.run_ids(EXP) if x not in self.old_runs]
        self.assertEqual(len(runs), 2, "the killed run was created on resume")
        by_run = {}
        for e in self.emissions(EXP)[before:]:
            by_run.setdefault(e["run_id"], []).append(e)
        self.assertEqual(len(by_run), 2)
        # One whole second per delta at most every 0.5 s measurement: ~3 in the ~3.5 s it ran.
        killed = [v for k, v in by_run.items() if len(v) >= 3]
        self.assertTrue(killed, "the killed run's deltas arrived: %s" % {k: len(v) for k, v in by_run.items()})
        durations = [e["duration"] for e in killed[0]]
        self.assertTrue(all(d > 0 for d in durations))
        self.assertFalse(os.listdir(self.spool) and any(
            files for _, _, files in os.walk(self.spool) if any(f.endswith(".json") for f in files)),
            "spool drained")

    def test_hung_server_does_not_delay_intervals(self):
        """Acceptance 4: requests are bounded and measurement intervals stay on time."""
        self.config(api_call_interval=1, api_timeout_secs=1)
        self.post("/_test/fault", {"mode": "hang", "seconds": 3600})
        t0 = time.time()
        r = self.run_monitor("--measure-power-secs", "0.5", "--duration", "4", "--quiet",
                             "--intervals-file", "iv.csv")
        elapsed = time.time() - t0
        self.post("/_test/fault", {"mode": "none"})
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("iv.csv"), newline="") as f:
            durations = [float(x["duration_s"]) for x in csv.DictReader(f)]
        self.assertGreaterEqual(len(durations), 7)
        self.assertLess(max(durations[:-1]), 0.75, durations)
        self.assertLess(elapsed, 4 + 10 + 5, "stop waits at most ~10 s for the uploads")
        self.assertIn("stay in", r.stderr)

    def test_wrong_token_is_refused_once(self):
        """Acceptance 5: 403: one clear message naming the experiment, non-zero exit, deltas kept."""
        self.config(token="cpt_wrong_token_0000000000000000000000000000", api_call_interval=1)
        r = self.run_monitor("--measure-power-secs", "0.5", "--duration", "2", "--quiet")
        self.assertEqual(r.returncode, 1, r.stderr)
        errors = [l for l in r.stderr.splitlines() if "error" in l]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(EXP, errors[0])
        self.assertIn("403", errors[0])
        self.assertNotIn("cpt_wrong_token", r.stderr)
        self.assertTrue(os.path.exists(self.path("emissions.csv")))
        self.assertGreater(sum(len(f) for _, _, f in os.walk(self.spool)), 0, "deltas kept")

    def test_login_then_monitor(self):
        """Acceptance 6: login creates an experiment and writes a 0600 config the next monitor uses."""
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_")}
        env["HOME"] = self.dir
        r = subprocess.run([BIN, "login", "--token", USER_TOKEN, "--api-endpoint", self.server.url,
                            "--name", "from-login", "--description", "test"], cwd=self.dir, env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = self.path(".codecarbon.config")
        self.assertEqual(stat.S_IMODE(os.stat(cfg).st_mode), 0o600)
        with open(cfg) as f:
            text = f.read()
        exp = [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith("experiment_id")][0]
        with open(cfg, "a") as f:
            f.write("spool_dir = %s\n" % self.spool)
        r = self.run_monitor("--measure-power-secs", "0.5", "--", BURN, "--seconds", "1.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.emissions(exp))
        self.assertEqual(self.server.get("/_test/runs?experiment_id=%s" % exp)[0]["experiment_id"], exp)


if __name__ == "__main__":
    unittest.main()
