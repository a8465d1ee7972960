"""Acceptance 7: bad input gives one clear message, a non-zero exit and no half-written file."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cbtest import TempDirTest, monitor, needs_bpf  # noqa: E402


class BadInput(TempDirTest):
    def assertOneError(self, r, *needles):
        self.assertNotEqual(r.rc, 0)
        errors = [l for l in r.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 1, r.stderr)
        for n in needles:
            self.assertIn(n, errors[0])

    def assertNoFiles(self, d=None):
        self.assertEqual(os.listdir(d or self.dir), [])

    def test_unknown_country_code(self):
        r = monitor(self.dir, "--country-iso-code", "XYZ", "--", "true")
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, "unknown country", "XYZ")
        self.assertNoFiles()

    def test_malformed_number(self):
        r = monitor(self.dir, "--measure-power-secs", "soon", "--", "true")
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, "measure-power-secs")
        self.assertNoFiles()

    def test_output_names_that_collide_or_are_paths(self):
        for args in (["--output-file", "processes.csv"], ["--intervals-file", "emissions.csv"],
                     ["--intervals-file", "sub/iv.csv"], ["--output-file", "."],
                     ["--processes-file", "/tmp/p.csv"]):
            r = monitor(self.dir, *args, "--", "true")
            self.assertEqual(r.rc, 2, args)
            self.assertOneError(r, "output")
        self.assertNoFiles()

    def test_malformed_durations(self):
        for bad in ("1x", "nan", "inf", "1e999", "0", "-1", ""):
            r = monitor(self.dir, "--duration", bad)
            self.assertEqual(r.rc, 2, bad)
            self.assertOneError(r, "--duration")
        self.assertNoFiles()

    def test_out_of_range_numbers(self):
        for key, val in (("PUE", "1e308"), ("FORCE_CPU_POWER", "0"), ("FORCE_RAM_POWER", "1e300"),
                         ("WUE", "-1")):
            r = monitor(self.dir, "--", "true", env={"CODECARBON_" + key: val})
            self.assertEqual(r.rc, 2, key)
            self.assertOneError(r)
        self.assertNoFiles()

    def test_api_settings_checked_before_measuring(self):
        r = monitor(self.dir, "--api", "--", "true", env={"CODECARBON_API_ENDPOINT": "ftp://x"})
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, "api_endpoint")
        r = monitor(self.dir, "--api", "--experiment-id", "not-a-uuid", "--", "true")
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, "not a UUID")
        self.assertNoFiles()

    def test_nothing_after_double_dash(self):
        r = monitor(self.dir, "--")
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, "nothing after --")

    def test_bad_config_file_names_file_line_and_key(self):
        with open(self.path(".codecarbon.config"), "w") as f:
            f.write("[codecarbon]\nexperiment-id = 123\n")
        r = monitor(self.dir, "--", "true")
        self.assertEqual(r.rc, 2)
        self.assertOneError(r, ".codecarbon.config", "2", "experiment-id", "experiment_id")


@needs_bpf
class BadInputWithBpf(TempDirTest):
    def assertOneError(self, r, *needles):
        BadInput.assertOneError(self, r, *needles)

    def test_pid_that_does_not_exist(self):
        r = monitor(self.dir, "--pid", "4194000")
        self.assertOneError(r, "no process with pid 4194000")
        self.assertEqual(os.listdir(self.dir), [])

    def test_output_name_taken_by_a_directory(self):
        os.mkdir(self.path("emissions.csv"))
        r = monitor(self.dir, "--", "true")
        self.assertOneError(r, "not a regular file")
        self.assertEqual(os.listdir(self.dir), ["emissions.csv"])

    def test_bad_procfs_root(self):
        r = monitor(self.dir, "--procfs-root", self.path("nope"), "--", "true")
        self.assertOneError(r, "procfs")
        self.assertEqual(os.listdir(self.dir), [])

    def test_unwritable_output_dir(self):
        for bad in ("/proc/sys", self.path("missing", "dir")):
            r = monitor(self.dir, "--output-dir", bad, "--", "true")
            self.assertOneError(r, "output directory", "not writable")
        self.assertEqual(os.listdir(self.dir), [])

    def test_no_privilege_to_load_bpf(self):
        r = monitor(self.dir, "--", "true", user=65534, env={"HOME": self.dir})
        self.assertOneError(r, "cannot load the BPF programs", "CAP_BPF")
        self.assertEqual(os.listdir(self.dir), [])


if __name__ == "__main__":
    unittest.main()
