"""`carbonbpf login` and `carbonbpf api` against the local CodeCarbon-compatible test server.

The uploader's delivery guarantees (503s, 403, hung server, SIGKILL and resume) are tested
in tests/unit/test_uploader.c against the same server.
"""
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BIN, ROOT, TempDirTest  # noqa: E402

SERVER = os.path.join(ROOT, "tests", "api_server.py")
ORG = "0a000000-0000-4000-8000-000000000001"
PROJECT = "0b000000-0000-4000-8000-000000000001"
PROJECT2 = "0b000000-0000-4000-8000-000000000002"
EXP = "0c000000-0000-4000-8000-000000000001"
EXP2 = "0c000000-0000-4000-8000-000000000002"
TOKEN = "cpt_project_token_of_p1_0123456789abcdefghi"
TOKEN2 = "cpt_project_token_of_p2_0123456789abcdefghi"
USER_TOKEN = "user-access-token-0123456789"
SEED = {
    "users": [{"token": USER_TOKEN, "name": "alice", "orgs": [ORG]}],
    "orgs": [{"id": ORG, "name": "org one"}],
    "projects": [{"id": PROJECT, "name": "first", "organization_id": ORG},
                 {"id": PROJECT2, "name": "second", "organization_id": ORG}],
    "experiments": [{"id": EXP, "name": "e1", "project_id": PROJECT},
                    {"id": EXP2, "name": "e2", "project_id": PROJECT2}],
    "tokens": [{"token": TOKEN, "project_id": PROJECT}, {"token": TOKEN2, "project_id": PROJECT2}],
}


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="carbonbpf-api-")
        seed = os.path.join(self.dir, "seed.json")
        with open(seed, "w") as f:
            json.dump(SEED, f)
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file, "--seed", seed],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


class ApiCommands(TempDirTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_cb(self, *args, stdin=None):
        env = dict(os.environ, HOME=self.dir)
        env = {k: v for k, v in env.items() if not k.upper().startswith("CODECARBON_")}
        r = subprocess.run([BIN] + list(args), input=stdin, capture_output=True, text=True,
                           cwd=self.dir, env=env, timeout=30)
        for secret in (TOKEN, TOKEN2, USER_TOKEN):
            if secret not in (stdin or ""):
                self.assertNotIn(secret, r.stdout + r.stderr)
        return r

    def config(self, path=None):
        out = {}
        with open(path or self.path(".codecarbon.config")) as f:
            for line in f:
                k, sep, v = line.partition("=")
                if sep:
                    out[k.strip()] = v.strip()
        return out

    def mode(self, path):
        return stat.S_IMODE(os.stat(path).st_mode)

    def errors(self, r):
        return [l for l in r.stderr.splitlines() if ": error: " in l]

    def test_login_with_project_token_checks_and_saves_0600(self):
        runs_before = len(self.server.get("/_test/runs?experiment_id=" + EXP))
        r = self.run_cb("login", "--api-key", "-", "--experiment-id", EXP,
                        "--api-endpoint", self.server.url + "/", stdin=TOKEN + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = self.config()
        self.assertEqual(cfg["api_key"], TOKEN)
        self.assertEqual(cfg["experiment_id"], EXP)
        self.assertEqual(cfg["api_endpoint"], self.server.url + "/")
        self.assertEqual(self.mode(self.path(".codecarbon.config")), 0o600)
        # The check is one real run in the experiment.
        self.assertEqual(len(self.server.get("/_test/runs?experiment_id=" + EXP)), runs_before + 1)

    def test_login_with_wrong_token_one_error_nothing_saved(self):
        r = self.run_cb("login", "--api-key", "-", "--experiment-id", EXP,
                        "--api-endpoint", self.server.url, stdin=TOKEN2 + "\n")
        self.assertEqual(r.returncode, 1)
        errors = self.errors(r)
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(EXP, errors[0])
        self.assertIn("403", errors[0])
        self.assertFalse(os.path.exists(self.path(".codecarbon.config")))

    def test_login_tightens_a_readable_config(self):
        p = self.path(".codecarbon.config")
        with open(p, "w") as f:
            f.write("[codecarbon]\nmeasure_power_secs = 5\n")
        os.chmod(p, 0o644)
        r = self.run_cb("login", "--api-key", TOKEN, "--experiment-id", EXP,
                        "--api-endpoint", self.server.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.mode(p), 0o600)
        self.assertIn("0644", r.stderr)
        self.assertEqual(self.config()["measure_power_secs"], "5")

    def test_login_global(self):
        r = self.run_cb("login", "--api-key", TOKEN, "--experiment-id", EXP,
                        "--api-endpoint", self.server.url, "--global")
        self.assertEqual(r.returncode, 0, r.stderr)
        g = self.path(".codecarbon.config")  # HOME is the test directory
        self.assertEqual(self.config(g)["experiment_id"], EXP)
        self.assertEqual(self.mode(g), 0o600)

    def test_login_with_user_token_creates_experiment_and_token(self):
        r = self.run_cb("login", "--token", "-", "--api-endpoint", self.server.url,
                        "--project", "second", "--name", "nightly", "--description", "ci runs",
                        "--country", "fra", stdin=USER_TOKEN + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = self.config()
        self.assertEqual(self.mode(self.path(".codecarbon.config")), 0o600)
        exp = self.server.get("/_test/state")["experiments"][cfg["experiment_id"]]
        self.assertEqual(exp["name"], "nightly")
        self.assertEqual(exp["description"], "ci runs")
        self.assertEqual(exp["project_id"], PROJECT2)
        self.assertEqual(exp["country_iso_code"], "FRA")
        self.assertEqual(cfg["project_id"], PROJECT2)
        self.assertEqual(cfg["organization_id"], ORG)
        self.assertTrue(cfg["api_key"].startswith("cpt_"))
        # The saved token and experiment are accepted together (the config the monitor reads).
        r = self.run_cb("login", "--api-key", cfg["api_key"], "--experiment-id",
                        cfg["experiment_id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.server.get("/_test/runs?experiment_id=" + cfg["experiment_id"])), 1)

    def test_login_with_credentials_json_default_project(self):
        with open(self.path("credentials.json"), "w") as f:
            json.dump({"access_token": USER_TOKEN, "refresh_token": "x"}, f)
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\napi_key = %s\napi_endpoint = %s\n" % (TOKEN, self.server.url))
        os.chmod(self.path(".codecarbon.config"), 0o600)
        r = self.run_cb("login")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = self.config()
        # An api_key was configured: kept, no new token.
        self.assertEqual(cfg["api_key"], TOKEN)
        exp = self.server.get("/_test/state")["experiments"][cfg["experiment_id"]]
        self.assertEqual(exp["project_id"], PROJECT)  # the first project

    def test_login_usage_and_auth_errors(self):
        r = self.run_cb("login", "--api-key", TOKEN)
        self.assertEqual(r.returncode, 2)
        r = self.run_cb("login", "--api-key", TOKEN, "--experiment-id", "not-a-uuid")
        self.assertEqual(r.returncode, 2)
        r = self.run_cb("login", "--api-endpoint", self.server.url)  # no credentials.json
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(self.errors(r)), 1)
        r = self.run_cb("login", "--token", "wrong", "--api-endpoint", self.server.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", self.errors(r)[0])
        r = self.run_cb("login", "--token", USER_TOKEN, "--project", "nope",
                        "--api-endpoint", self.server.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", self.errors(r)[0])

    def api(self, *args):
        return self.run_cb("api", "--token", USER_TOKEN, "--api-endpoint", self.server.url, *args)

    def test_api_orgs_projects_experiments_tokens(self):
        r = self.api("orgs", "create", "--name", "lab", "--description", "the lab")
        self.assertEqual(r.returncode, 0, r.stderr)
        org_id = r.stdout.split("\t")[0]
        r = self.api("orgs", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%s\tlab\tthe lab" % org_id, r.stdout.splitlines())
        r = self.api("projects", "create", "--name", "bench", "--org", "lab")
        self.assertEqual(r.returncode, 0, r.stderr)
        project_id = r.stdout.split("\t")[0]
        r = self.api("projects", "list", "--org", org_id)
        self.assertEqual([l.split("\t")[:2] for l in r.stdout.splitlines()], [[project_id, "bench"]])
        r = self.api("experiments", "create", "--name", "x1", "--project", "bench", "--country", "Norway")
        self.assertEqual(r.returncode, 0, r.stderr)
        exp_id = r.stdout.split("\t")[0]
        r = self.api("experiments", "list", "--project", project_id)
        self.assertEqual([l.split("\t")[:2] for l in r.stdout.splitlines()], [[exp_id, "x1"]])
        self.assertEqual(self.server.get("/_test/state")["experiments"][exp_id]["country_name"], "Norway")
        r = self.api("tokens", "create", "--project", "bench", "--name", "ci", "--access", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        self.assertTrue(token.startswith("cpt_"))
        r = self.api("tokens", "list", "--project", "bench")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\tci\taccess=2", r.stdout)
        self.assertNotIn(token, r.stdout)
        # The new token may create runs in the new experiment, not in another project's.
        r = self.run_cb("login", "--api-key", "-", "--experiment-id", exp_id,
                        "--api-endpoint", self.server.url, stdin=token)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cb("login", "--api-key", "-", "--experiment-id", EXP,
                        "--api-endpoint", self.server.url, stdin=token)
        self.assertEqual(r.returncode, 1)

    def test_api_errors(self):
        self.assertEqual(self.api("orgs").returncode, 2)
        self.assertEqual(self.api("things", "list").returncode, 2)
        self.assertEqual(self.api("orgs", "create").returncode, 2)
        self.assertEqual(self.api("tokens", "create", "--access", "7").returncode, 2)
        r = self.run_cb("api", "--token", "wrong", "--api-endpoint", self.server.url, "orgs", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", self.errors(r)[0])
        r = self.run_cb("api", "--token", USER_TOKEN, "--api-endpoint", "http://127.0.0.1:1",
                        "orgs", "list")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(self.errors(r)), 1)


if __name__ == "__main__":
    unittest.main()
