"""Shared helpers for the integration tests: run carbonbpf on real processes, read its CSVs."""
import csv
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("CARBONBPF_BIN", os.path.join(ROOT, "build", "carbonbpf"))
BURN = os.environ.get("CARBONBPF_BURN", os.path.join(ROOT, "build", "tools", "burn"))
FAKE_POWERCAP = os.path.join(ROOT, "tools", "fake_powercap.py")

_bpf_reason = None


def bpf_unavailable():
    """None when carbonbpf can load its BPF programs here, else the reason (tests SKIP)."""
    global _bpf_reason
    if _bpf_reason is None:
        if os.geteuid() != 0:
            _bpf_reason = "not root: BPF tests need root or CAP_BPF+CAP_PERFMON"
        else:
            d = tempfile.mkdtemp()
            try:
                r = subprocess.run([BIN, "monitor", "--quiet", "--duration", "0.2",
                                    "--output-dir", d], capture_output=True, text=True)
                _bpf_reason = "" if r.returncode == 0 else "BPF cannot load: " + r.stderr.strip()
            finally:
                shutil.rmtree(d)
    return _bpf_reason or None


def needs_bpf(cls):
    reason = bpf_unavailable()
    return unittest.skip(reason)(cls) if reason else cls


class Run:
    """One finished carbonbpf invocation in its own output directory."""

    def __init__(self, args, outdir, env=None, timeout=120, user=None):
        cmd = [BIN] + args
        if user:
            cmd = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"] + cmd
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                   cwd=outdir, env=e)
        self.outdir = outdir
        self.rc = self.proc.returncode
        self.stdout = self.proc.stdout
        self.stderr = self.proc.stderr

    def rows(self, name):
        with open(os.path.join(self.outdir, name), newline="") as f:
            return list(csv.DictReader(f))

    def header(self, name):
        with open(os.path.join(self.outdir, name), newline="") as f:
            return next(csv.reader(f))


def monitor(outdir, *args, **kw):
    return Run(["monitor", "--output-dir", outdir] + list(args), outdir, **kw)


def read_report(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            out[k] = v
    return out


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="carbonbpf-test-")
        os.chmod(self.dir, 0o777)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *p):
        return os.path.join(self.dir, *p)
