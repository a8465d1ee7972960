"""Live intensity from Electricity Maps against a local stub server (never the internet):
success, token refused, a server that hangs (bounded), malformed JSON; each failure falls
back to the tables with a warning that names the reason and never the token."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BIN, TempDirTest  # noqa: E402

TOKEN = "em-test-token-Zq81xT"
FRA_TABLE = 56.039  # global_energy_mix.json FRA carbon_intensity (2023)


class Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("auth-token")))
        mode = srv.mode
        if mode == "hang":
            srv.release.wait(15)  # longer than any bound carbonbpf may use
            return
        if mode == "401":
            body, status = b'{"error":"Unauthorized"}', 401
        elif mode == "malformed":
            body, status = b'{"zone": "FR", "carbonIntensity": ', 200
        elif mode == "null":
            body, status = b'{"zone": "FR", "carbonIntensity": null}', 200
        else:
            body = json.dumps({"zone": "FR", "carbonIntensity": 31,
                               "datetime": "2026-08-08T10:00:00.000Z",
                               "updatedAt": "2026-08-08T09:55:12.000Z",
                               "emissionFactorType": "lifecycle",
                               "isEstimated": True}).encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ElectricityMaps(TempDirTest):
    def setUp(self):
        super().setUp()
        self.srv = Stub(("127.0.0.1", 0), Handler)
        self.srv.mode = "ok"
        self.srv.requests = []
        self.srv.release = threading.Event()
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def tearDown(self):
        self.srv.release.set()
        self.srv.shutdown()
        self.srv.server_close()
        super().tearDown()

    def detect(self, mode, *args, token_key="CODECARBON_ELECTRICITYMAPS_API_TOKEN"):
        self.srv.mode = mode
        e = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_")}
        e.update({"HOME": self.dir, token_key: TOKEN,
                  "CODECARBON_ELECTRICITYMAPS_API_ENDPOINT": self.endpoint + "/"})
        t0 = time.monotonic()
        r = subprocess.run([BIN, "detect", "--json"] + list(args), capture_output=True,
                           text=True, timeout=60, cwd=self.dir, env=e)
        self.elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)
        return json.loads(r.stdout)["intensity"], r.stderr

    def assertFellBack(self, i, err, *reason):
        self.assertAlmostEqual(i["g_per_kwh"], FRA_TABLE, places=6)
        self.assertEqual(i["origin"], "country")
        self.assertIn("country FRA", i["source"])
        warns = [l for l in err.splitlines() if "warning: Electricity Maps" in l]
        self.assertEqual(len(warns), 1, err)
        for r in reason:
            self.assertIn(r, warns[0])

    def test_success(self):
        i, err = self.detect("ok", "--country-iso-code", "FRA")
        self.assertEqual(i["g_per_kwh"], 31)
        self.assertEqual(i["origin"], "electricitymaps")
        self.assertEqual(i["source"], "Electricity Maps live, zone FR, 2026-08-08T10:00:00.000Z")
        self.assertEqual(i["country_iso3"], "FRA")
        self.assertEqual(self.srv.requests,
                         [("/v3/carbon-intensity/latest?countryCode=FR", TOKEN)])
        self.assertNotIn("Electricity Maps", err)

    def test_old_token_name(self):
        """co2_signal_api_token is CodeCarbon's older name for the same token."""
        i, _ = self.detect("ok", "--country-iso-code", "fr",
                           token_key="CODECARBON_CO2_SIGNAL_API_TOKEN")
        self.assertEqual(i["origin"], "electricitymaps")
        self.assertEqual(self.srv.requests[0][1], TOKEN)

    def test_token_refused(self):
        i, err = self.detect("401", "--country-iso-code", "FRA")
        self.assertFellBack(i, err, "HTTP 401", "token was refused")

    def test_server_hangs_bounded(self):
        i, err = self.detect("hang", "--country-iso-code", "FRA")
        self.assertFellBack(i, err, "no answer within 2000 ms")
        self.assertLess(self.elapsed, 6.0, "the request was not bounded")

    def test_malformed_json(self):
        i, err = self.detect("malformed", "--country-iso-code", "FRA")
        self.assertFellBack(i, err, "JSON")

    def test_no_figure(self):
        i, err = self.detect("null", "--country-iso-code", "FRA")
        self.assertFellBack(i, err, "carbonIntensity")

    def test_server_down(self):
        self.srv.shutdown()
        self.srv.server_close()
        i, err = self.detect("ok", "--country-iso-code", "FRA")
        self.assertFellBack(i, err, "127.0.0.1")

    def test_forced_value_wins_without_request(self):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\nforce_carbon_intensity_g_co2e_kwh = 10\n")
        i, _ = self.detect("ok", "--country-iso-code", "FRA")
        self.assertEqual(i["origin"], "forced")
        self.assertEqual(i["g_per_kwh"], 10)
        self.assertEqual(self.srv.requests, [])


if __name__ == "__main__":
    unittest.main()
