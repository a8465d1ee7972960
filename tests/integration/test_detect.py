"""`carbonbpf detect`: this machine's energy sources, fake powercap trees, BPF, cgroups,
privileges and the intensity in effect (issue 3, acceptance 3 and 4)."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import BIN, FAKE_POWERCAP, TempDirTest  # noqa: E402

IS_ROOT = os.geteuid() == 0


class DetectTest(TempDirTest):
    def detect(self, *args, env=None, user=None):
        """Runs detect in the temp dir with HOME there and no CODECARBON_* from outside."""
        e = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_")}
        e["HOME"] = self.dir
        e.update(env or {})
        cmd = [BIN, "detect"] + list(args)
        if user is not None:
            cmd = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.dir,
                              env=e)

    def detect_json(self, *args, **kw):
        r = self.detect("--json", *args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout), r

    def fake_tree(self, *args):
        root = self.path("sys")
        subprocess.run([sys.executable, FAKE_POWERCAP, root] + list(args), check=True)
        return root


class ThisMachine(DetectTest):
    def test_sources_and_verdict(self):
        """Every source is named with a verdict; when none reads energy it says 'estimated'."""
        j, _ = self.detect_json()
        srcs = {s["name"]: s for s in j["energy"]["sources"]}
        self.assertEqual(set(srcs), {"powercap", "perf power PMU", "msr", "CPU-load model"})
        for s in srcs.values():
            self.assertIn(s["status"], ("selected", "available", "rejected"))
            if s["status"] == "rejected":
                self.assertTrue(s["reason"], s)
        selected = [s["name"] for s in srcs.values() if s["status"] == "selected"]
        self.assertEqual(selected, [j["energy"]["selected"]])
        text = self.detect().stdout
        if j["energy"]["selected"] == "CPU-load model":
            self.assertTrue(j["energy"]["estimated"])
            self.assertIn("ENERGY WILL BE ESTIMATED", text)
            self.assertIn("CPU-load model", j["energy"]["in_use"])
        else:
            self.assertNotIn("ESTIMATED", j["energy"]["summary"])

    @unittest.skipIf(os.path.exists("/sys/class/powercap") or
                     os.path.exists("/sys/devices/virtual/powercap"),
                     "this machine has powercap: nothing to name as missing")
    def test_names_missing_powercap(self):
        j, _ = self.detect_json()
        pc = j["energy"]["sources"][0]
        self.assertEqual(pc["status"], "rejected")
        self.assertIn("no powercap in /sys", pc["reason"])
        self.assertEqual(j["energy"]["powercap"]["zones"], [])
        self.assertIn("powercap zones none", self.detect().stdout)

    def test_names_perf_pmu_problem(self):
        """The perf power PMU is either missing, or reads 0, or unreadable: said which."""
        j, _ = self.detect_json()
        perf = j["energy"]["sources"][1]
        if not os.path.exists("/sys/bus/event_source/devices/power"):
            self.assertEqual(perf["status"], "rejected")
            self.assertIn("no power PMU", perf["reason"])
        elif perf["status"] == "rejected":
            self.assertRegex(perf["reason"], "stayed at 0|perf_event_open|event")

    @unittest.skipIf(any(os.path.exists("/dev/cpu/%d/msr" % c) for c in range(4)),
                     "the msr driver is loaded here")
    def test_names_missing_msr_driver(self):
        j, _ = self.detect_json()
        self.assertIn("modprobe msr", j["energy"]["sources"][2]["reason"])

    def test_machine(self):
        j, _ = self.detect_json()
        m = j["machine"]
        self.assertEqual(m["cpus_online"], os.sysconf("SC_NPROCESSORS_ONLN"))
        self.assertGreaterEqual(m["cpus_possible"], m["cpus_online"])
        self.assertGreaterEqual(m["sockets"], 1)
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        self.assertEqual(m["ram_bytes"], kib * 1024)
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        if models:
            self.assertEqual(m["cpu_model"], models[0])

    def test_cgroup_mode_of_this_machine(self):
        with open("/proc/self/mountinfo") as f:
            types = {l.split(" - ")[1].split()[0] for l in f if " - " in l}
        want = {(True, True): "hybrid", (True, False): "v1", (False, True): "v2",
                (False, False): "none"}[("cgroup" in types, "cgroup2" in types)]
        j, _ = self.detect_json()
        self.assertEqual(j["cgroup"]["mode"], want)

    def test_text_and_json_agree(self):
        j, _ = self.detect_json()
        text = self.detect().stdout
        for section in ("Machine", "Energy", "BPF", "cgroups", "Privileges", "Carbon intensity"):
            self.assertIn("\n%s\n" % section, "\n" + text)
        self.assertIn("%d possible, %d online" % (j["machine"]["cpus_possible"],
                                                  j["machine"]["cpus_online"]), text)
        self.assertIn("mode           %s" % j["cgroup"]["mode"], text)
        self.assertIn(j["energy"]["in_use"], text)

    def test_help_and_bad_option(self):
        r = self.detect("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--json", r.stdout)
        r = self.detect("--bogus")
        self.assertEqual(r.returncode, 2)
        r = self.detect("extra")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument", r.stderr)


class FakePowercap(DetectTest):
    def test_lists_domains(self):
        """Acceptance 4: on a fake powercap tree it lists the domains."""
        root = self.fake_tree("--socket", "0", "--socket", "1", "--dram")
        r = self.detect("--sysfs-root", root)
        self.assertEqual(r.returncode, 0, r.stderr)
        for zid, name in (("intel-rapl:0", "package-0"), ("intel-rapl:1", "package-1"),
                          ("intel-rapl:0:0", "dram"), ("intel-rapl:1:0", "dram")):
            self.assertRegex(r.stdout, r"%s\s+%s\s" % (zid, name))
        self.assertIn("energy is measured by powercap", r.stdout)
        self.assertNotIn("ENERGY WILL BE ESTIMATED", r.stdout)

        j, _ = self.detect_json("--sysfs-root", root)
        e = j["energy"]
        self.assertEqual(e["selected"], "powercap")
        self.assertFalse(e["estimated"])
        zones = {z["id"]: z for z in e["powercap"]["zones"]}
        self.assertEqual(set(zones), {"intel-rapl:0", "intel-rapl:1", "intel-rapl:0:0",
                                      "intel-rapl:1:0"})
        self.assertTrue(zones["intel-rapl:0"]["chosen"])
        self.assertTrue(zones["intel-rapl:1"]["chosen"])
        self.assertFalse(zones["intel-rapl:0:0"]["chosen"])
        self.assertIn("rapl_include_dram", zones["intel-rapl:0:0"]["note"])
        for z in zones.values():
            self.assertTrue(z["path"].startswith(root), z)
            self.assertTrue(z["readable"])
        doms = [d["name"] for d in e["sources"][0]["domains"]]
        self.assertEqual(doms, ["package-0", "package-1"])
        self.assertEqual(j["machine"]["sockets"], 2)

    def test_include_dram_from_config(self):
        root = self.fake_tree("--socket", "0", "--dram")
        j, _ = self.detect_json("--sysfs-root", root,
                                env={"CODECARBON_RAPL_INCLUDE_DRAM": "true"})
        doms = [d["name"] for d in j["energy"]["sources"][0]["domains"]]
        self.assertEqual(doms, ["package-0", "dram"])

    def test_sysfs_root_from_config_key(self):
        root = self.fake_tree("--socket", "0")
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\nsysfs_root = %s\n" % root)
        j, _ = self.detect_json()
        self.assertEqual(j["energy"]["selected"], "powercap")

    def test_mirrors_listed_once_used(self):
        root = self.fake_tree("--socket", "0", "--mmio")
        j, _ = self.detect_json("--sysfs-root", root)
        zones = {z["id"]: z for z in j["energy"]["powercap"]["zones"]}
        self.assertTrue(zones["intel-rapl-mmio:0"]["chosen"])
        self.assertFalse(zones["intel-rapl:0"]["chosen"])
        self.assertIn("mirror", zones["intel-rapl:0"]["note"])

    def test_forced_model_says_estimated(self):
        root = self.fake_tree("--socket", "0")
        j, r = self.detect_json("--sysfs-root", root,
                                env={"CODECARBON_FORCE_MODE_CPU_LOAD": "true"})
        self.assertTrue(j["energy"]["estimated"])
        self.assertEqual(j["energy"]["sources"][0]["status"], "available")
        self.assertIn("force_mode_cpu_load", j["energy"]["sources"][0]["reason"])

    @unittest.skipUnless(IS_ROOT, "not root: cannot run detect as another user to test "
                         "unreadable energy_uj files")
    def test_unreadable_energy_as_user(self):
        root = self.fake_tree("--socket", "0", "--mode", "0400")
        j, _ = self.detect_json("--sysfs-root", root, user=65534)
        pc = j["energy"]["sources"][0]
        self.assertEqual(pc["status"], "rejected")
        self.assertIn("not readable by this user", pc["reason"])
        self.assertFalse(j["privileges"]["powercap_readable"])
        self.assertTrue(any("chmod a+r" in m for m in j["privileges"]["missing"]))
        self.assertTrue(j["energy"]["estimated"])


class Cgroups(DetectTest):
    LINES = {
        "v2": "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n",
        "v1": "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
        "hyb": "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
    }

    def procfs(self, *keys):
        p = self.path("proc")
        os.makedirs(os.path.join(p, "self"), exist_ok=True)
        with open(os.path.join(p, "self", "mountinfo"), "w") as f:
            f.write("22 1 259:2 / / rw - ext4 /dev/root rw\n")
            for k in keys:
                f.write(self.LINES[k])
        return p

    def test_modes(self):
        for keys, mode, mnt in ((("v2",), "v2", "/sys/fs/cgroup"), (("v1",), "v1", None),
                                (("v1", "hyb"), "hybrid", "/sys/fs/cgroup/unified"),
                                ((), "none", None)):
            j, _ = self.detect_json("--procfs-root", self.procfs(*keys))
            self.assertEqual(j["cgroup"]["mode"], mode, keys)
            self.assertEqual(j["cgroup"]["v2_mount"], mnt, keys)


class Bpf(DetectTest):
    @unittest.skipUnless(IS_ROOT, "not root: loading BPF needs root or CAP_BPF+CAP_PERFMON")
    def test_loads_as_root(self):
        j, _ = self.detect_json()
        b = j["bpf"]
        for mode in ("tp_btf", "raw_tp"):
            self.assertIn(mode, b)
            self.assertEqual(b[mode]["error"] is None, b[mode]["loads"], b[mode])
        if not (b["tp_btf"]["loads"] or b["raw_tp"]["loads"]):
            self.skipTest("BPF does not load on this kernel even as root: %s" %
                          b["tp_btf"]["error"])
        self.assertEqual(b["backend"], "tp_btf" if b["tp_btf"]["loads"] else "raw_tp")
        self.assertTrue(j["privileges"]["capabilities"]["CAP_BPF"])
        self.assertEqual(j["privileges"]["euid"], 0)

    @unittest.skipUnless(IS_ROOT, "not root: cannot switch to an unprivileged user")
    def test_unprivileged_user_told_what_is_missing(self):
        j, r = self.detect_json(user=65534)
        b = j["bpf"]
        self.assertFalse(b["tp_btf"]["loads"])
        self.assertFalse(b["raw_tp"]["loads"])
        self.assertIsNone(b["backend"])
        self.assertIn("CAP_BPF", b["tp_btf"]["error"])
        caps = j["privileges"]["capabilities"]
        self.assertFalse(caps["CAP_BPF"])
        self.assertFalse(caps["CAP_PERFMON"])
        self.assertTrue(any("CAP_BPF" in m for m in j["privileges"]["missing"]))
        text = self.detect(user=65534).stdout
        self.assertIn("CAP_BPF        missing", text)
        self.assertIn("backend        none", text)


class Intensity(DetectTest):
    def test_country_flag(self):
        """global_energy_mix.json FRA: 56.039 g/kWh (2023); alpha-2 FR the same."""
        for code in ("FRA", "fr"):
            j, _ = self.detect_json("--country-iso-code", code)
            i = j["intensity"]
            self.assertAlmostEqual(i["g_per_kwh"], 56.039, places=6)
            self.assertEqual(i["country_iso3"], "FRA")
            self.assertEqual(i["origin"], "country")
            self.assertIn("country FRA", i["source"])

    def test_region_flag(self):
        """usa_emissions.json texas 1049.527 lbs/MWh x 0.45359237 = 476.0574393 g/kWh."""
        j, _ = self.detect_json("--country-iso-code", "USA", "--region", "TX")
        self.assertAlmostEqual(j["intensity"]["g_per_kwh"], 476.0574393, places=5)
        self.assertEqual(j["intensity"]["region"], "texas")

    def test_unknown_country_on_command_line_is_an_error(self):
        r = self.detect("--country-iso-code", "XYZ")
        self.assertEqual(r.returncode, 2)
        errors = [l for l in r.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn("unknown country 'XYZ'", errors[0])
        self.assertEqual(r.stdout, "")

    def test_unknown_country_in_config_warns_and_uses_world_average(self):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\ncountry_iso_code = XYZ\n")
        j, r = self.detect_json()
        self.assertEqual(j["intensity"]["g_per_kwh"], 475)
        self.assertTrue(j["intensity"]["world_default"])
        self.assertIn("unknown country 'XYZ'", j["intensity"]["warning"])
        self.assertIn("warning: unknown country 'XYZ'", r.stderr)

    def test_no_country_warns(self):
        r = self.detect()
        self.assertEqual(r.returncode, 0)
        self.assertIn("world average", r.stdout)
        self.assertIn("no country known", r.stdout)

    def test_forced(self):
        j, _ = self.detect_json(env={"CODECARBON_FORCE_CARBON_INTENSITY_G_CO2E_KWH": "99.5"})
        self.assertEqual(j["intensity"]["g_per_kwh"], 99.5)
        self.assertEqual(j["intensity"]["origin"], "forced")

    def test_carbon_data_file(self):
        """A newer data file in global_energy_mix.json format replaces the table's figure."""
        path = self.path("mix-2025.json")
        with open(path, "w") as f:
            json.dump({"FRA": {"country_name": "France", "year": 2025, "carbon_intensity": 44.4,
                               "total_TWh": 500}}, f)
        j, _ = self.detect_json("--country-iso-code", "FRA",
                                env={"CODECARBON_CARBON_DATA_FILE": path})
        self.assertEqual(j["intensity"]["g_per_kwh"], 44.4)
        self.assertIn("mix-2025.json", j["intensity"]["source"])
        self.assertIn("2025", j["intensity"]["source"])

    def test_bad_carbon_data_file_one_clear_error(self):
        path = self.path("broken.json")
        with open(path, "w") as f:
            f.write("{\"FRA\": ")
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\ncarbon_data_file = %s\n" % path)
        r = self.detect("--country-iso-code", "FRA")
        self.assertEqual(r.returncode, 1)
        errors = [l for l in r.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(path, errors[0])
        self.assertIn(".codecarbon.config:2", errors[0])
        self.assertIn("global_energy_mix.json", errors[0])


if __name__ == "__main__":
    unittest.main()
