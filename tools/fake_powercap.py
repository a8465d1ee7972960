#!/usr/bin/env python3
"""Creates or advances a fake sysfs root (powercap RAPL zones + CPU topology) for tests.

Create (zones are numbered in the order given, like the kernel's intel-rapl:N):
  tools/fake_powercap.py ROOT --socket 0 --socket 1 --dram
  tools/fake_powercap.py ROOT --socket 0 --psys --socket 1 --mmio --core --uncore
  tools/fake_powercap.py ROOT --socket 0 --dies 2 --procfs ROOT/proc --cpu-model "Intel(R) Xeon(R) Processor"
Advance or set counters of an existing root (every zone with that name, MSR and MMIO copies
and die mirrors alike, so mirrors stay equal; a zone id such as intel-rapl:0:2 also works;
advancing wraps at the zone's max_energy_range_uj like the hardware):
  tools/fake_powercap.py ROOT --advance package-0=1000000 --advance dram=20000
  tools/fake_powercap.py ROOT --set package-1=5
Then: carbonbpf --sysfs-root ROOT [--procfs-root ROOT/proc] ...

Layout: zones are real directories under ROOT/devices/virtual/powercap/<control type>/...,
nested like the kernel's, with flat symlinks in ROOT/class/powercap (--layout class, the
default) or without them (--layout virtual). Topology: ROOT/devices/system/cpu/{possible,
online} and cpuN/topology/physical_package_id, --cpus-per-socket CPUs per socket.
"""
import argparse
import os
import sys

DEFAULT_MAX = 262143328850  # a common Intel max_energy_range_uj


class ZoneAction(argparse.Action):
    """Keeps --socket N and --psys in the order given (it decides the zone indices)."""

    def __call__(self, parser, ns, values, option_string=None):
        zones = getattr(ns, "zones", None) or []
        if option_string == "--psys":
            zones.append(("psys", None))
        elif option_string == "--top-dram":
            zones.append(("dram", None))
        else:
            zones.append(("package", int(values)))
        ns.zones = zones


def write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


def make_zone(parent_dir, zone_id, name, args):
    d = os.path.join(parent_dir, zone_id)
    os.makedirs(d, exist_ok=True)
    write(os.path.join(d, "name"), name + "\n")
    write(os.path.join(d, "energy_uj"), "%d\n" % args.energy, int(args.mode, 8))
    if args.max_range > 0:
        write(os.path.join(d, "max_energy_range_uj"), "%d\n" % args.max_range)
    write(os.path.join(d, "enabled"), "1\n")
    return d


def create(args):
    root = args.root
    vroot = os.path.join(root, "devices", "virtual", "powercap")
    zones = args.zones or [("package", 0)]
    made = []  # (zone id, dir)

    def control_types():
        yield "intel-rapl", "intel-rapl"
        if args.mmio:
            yield "intel-rapl-mmio", "intel-rapl-mmio"

    for ctype, prefix in control_types():
        cdir = os.path.join(vroot, ctype)
        os.makedirs(cdir, exist_ok=True)
        idx = 0
        for kind, sock in zones:
            if prefix == "intel-rapl-mmio" and kind != "package":
                continue  # the MMIO interface only mirrors package domains
            names = [kind] if kind != "package" else (
                ["package-%d" % sock] if args.dies <= 1 else
                ["package-%d-die-%d" % (sock, die) for die in range(args.dies)])
            for name in names:
                zid = "%s:%d" % (prefix, idx)
                idx += 1
                zdir = make_zone(cdir, zid, name, args)
                made.append((zid, zdir))
                if kind != "package" or prefix == "intel-rapl-mmio":
                    continue
                sub = 0
                for flag, sname in ((args.core, "core"), (args.uncore, "uncore"),
                                    (args.dram, "dram")):
                    if flag:
                        sid = "%s:%d" % (zid, sub)
                        sub += 1
                        made.append((sid, make_zone(zdir, sid, sname, args)))
    if args.layout == "class":
        cls = os.path.join(root, "class", "powercap")
        os.makedirs(cls, exist_ok=True)
        for zid, zdir in made:
            link = os.path.join(cls, zid)
            if not os.path.lexists(link):
                os.symlink(os.path.relpath(zdir, cls), link)

    if not args.no_topology:
        sockets = sorted({s for k, s in zones if k == "package"}) or [0]
        cpu_root = os.path.join(root, "devices", "system", "cpu")
        cpu = 0
        for s in sockets:
            for _ in range(args.cpus_per_socket):
                write(os.path.join(cpu_root, "cpu%d" % cpu, "topology",
                                   "physical_package_id"), "%d\n" % s)
                cpu += 1
        cpus = "0-%d\n" % (cpu - 1) if cpu > 1 else "0\n"
        write(os.path.join(cpu_root, "possible"), cpus)
        write(os.path.join(cpu_root, "online"), cpus)
    if args.procfs:
        ncpu = args.cpus_per_socket * max(1, len({s for k, s in zones if k == "package"}))
        info = "".join("processor\t: %d\nmodel name\t: %s\n\n" % (i, args.cpu_model)
                       for i in range(ncpu))
        write(os.path.join(args.procfs, "cpuinfo"), info)
        write(os.path.join(args.procfs, "meminfo"), "MemTotal:       %d kB\n" % args.mem_kib)


def zone_dirs(root):
    """Every zone directory once, whichever way (class links, nesting) it is reached."""
    seen = {}
    for base in (os.path.join(root, "class", "powercap"),
                 os.path.join(root, "devices", "virtual", "powercap")):
        for dirpath, dirnames, _ in os.walk(base, followlinks=True):
            dirnames[:] = [d for d in dirnames if d.startswith("intel-rapl")]
            name = os.path.basename(dirpath)
            if ":" in name and os.path.exists(os.path.join(dirpath, "energy_uj")):
                seen.setdefault(os.path.realpath(dirpath), name)
    return seen


def change(args, spec, add):
    key, _, val = spec.partition("=")
    if not key or not val:
        sys.exit("expected NAME=UJ, got %r" % spec)
    amount = int(val)
    hit = 0
    for zdir, zid in zone_dirs(args.root).items():
        with open(os.path.join(zdir, "name")) as f:
            name = f.read().strip()
        if key not in (name, zid) and not name.startswith(key + "-die-"):
            continue
        path = os.path.join(zdir, "energy_uj")
        with open(path) as f:
            cur = int(f.read().strip())
        new = cur + amount if add else amount
        mpath = os.path.join(zdir, "max_energy_range_uj")
        if add and os.path.exists(mpath):
            with open(mpath) as f:
                mx = int(f.read().strip())
            if mx > 0 and new > mx:
                new -= mx  # same one-wrap arithmetic as the reader expects
        mode = os.stat(path).st_mode & 0o7777
        os.chmod(path, mode | 0o200)
        with open(path, "w") as f:
            f.write("%d\n" % new)
        os.chmod(path, mode)
        hit += 1
    if not hit:
        sys.exit("no zone named %r under %s" % (key, args.root))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("root")
    ap.add_argument("--socket", action=ZoneAction, metavar="N",
                    help="package-N zone (physical package id N)")
    ap.add_argument("--psys", action=ZoneAction, nargs=0, help="top-level psys zone")
    ap.add_argument("--top-dram", action=ZoneAction, nargs=0, help="top-level dram zone")
    ap.add_argument("--dram", action="store_true", help="dram subzone under each package")
    ap.add_argument("--core", action="store_true", help="core subzone under each package")
    ap.add_argument("--uncore", action="store_true", help="uncore subzone under each package")
    ap.add_argument("--mmio", action="store_true",
                    help="intel-rapl-mmio copies of the package zones")
    ap.add_argument("--dies", type=int, default=1,
                    help="package-N-die-M zones per socket mirroring one counter")
    ap.add_argument("--energy", type=int, default=1000000, help="initial energy_uj")
    ap.add_argument("--max-range", type=int, default=DEFAULT_MAX,
                    help="max_energy_range_uj; 0 leaves the file out")
    ap.add_argument("--mode", default="0444", help="energy_uj file mode (octal), e.g. 0400")
    ap.add_argument("--layout", choices=("class", "virtual"), default="class")
    ap.add_argument("--cpus-per-socket", type=int, default=2)
    ap.add_argument("--no-topology", action="store_true")
    ap.add_argument("--procfs", metavar="DIR", help="also write DIR/cpuinfo and DIR/meminfo")
    ap.add_argument("--cpu-model", default="Intel(R) Xeon(R) Processor")
    ap.add_argument("--mem-kib", type=int, default=24683664)
    ap.add_argument("--advance", action="append", default=[], metavar="NAME=UJ")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=UJ")
    args = ap.parse_args()
    args.zones = getattr(args, "zones", None)

    if args.advance or args.set:
        for spec in args.set:
            change(args, spec, add=False)
        for spec in args.advance:
            change(args, spec, add=True)
    else:
        create(args)


if __name__ == "__main__":
    main()
