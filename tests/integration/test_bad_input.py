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
