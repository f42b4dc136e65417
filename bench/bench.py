"""rtrace against bpftrace 0.17 in one run: start-up, attach, per-event cost, lossless rate,
compile time, binary size. Prints Markdown tables and writes them to docs/BENCHMARKS.md.
Started by bench/run, which installs the tools and builds rtrace first."""

import argparse
import datetime
import os
import platform
import shutil
import signal
import sys
import tempfile
import time

import measure
import proc
import report

STATS = "/proc/sys/kernel/bpf_stats_enabled"
PARTS = ("startup", "five", "uprobes", "events", "stacks", "loss", "compile", "binary")


def parse():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rtrace", required=True)
    ap.add_argument("--bpftrace", default=shutil.which("bpftrace"))
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each timing (median)")
    ap.add_argument("--rates", default="10000,30000,60000,100000,200000,400000,0",
                    help="lossless test: getpid() calls a second, ascending; 0 = as fast as possible")
    ap.add_argument("--loss-seconds", type=float, default=1.0, help="length of each rate's burst")
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated subset of " + ",".join(PARTS))
    ap.add_argument("--out", help="Markdown file to write (docs/BENCHMARKS.md)")
    return ap.parse_args()


def machine():
    mem = "?"
    cpu = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "memory": mem, "cpu": cpu}


def versions(args):
    def first(argv):
        out = proc.capture(argv).strip().splitlines()
        return out[0] if out else "?"

    here = os.path.dirname(os.path.abspath(__file__))
    commit = first(["git", "-C", here, "rev-parse", "--short", "HEAD"])
    dirty = proc.capture(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"]).strip()
    return {"rtrace": "%s (commit %s%s)" % (first([args.rtrace, "-V"]), commit,
                                           ", with uncommitted changes" if dirty else ""),
            "bpftrace": first([args.bpftrace, "-V"]),
            "bpftool": first(["bpftool", "version"]),
            "python": platform.python_version()}


def run_all(args, tools, only):
    res = {}
    empty_start = {t: {"wall_ms": None, "rss_mib": None} for t in tools}
    res["startup"] = (measure.startup(tools, measure.BEGIN_EXIT, args.reps, "BEGIN { exit(); }")
                      if "startup" in only else empty_start)
    res["five"] = (measure.startup(tools, measure.FIVE_PROBES, args.reps, "five probes")
                   if "five" in only else empty_start)
    res["struct"] = (measure.startup(tools, measure.STRUCT_EXIT, args.reps, "struct script")
                     if "startup" in only else empty_start)
    res["uprobes"] = (measure.uprobes_attach(tools, min(args.reps, 3), tools["rtrace"])
                      if "uprobes" in only else {t: {"wall_ms": None} for t in tools})
    if "events" in only:
        with open(STATS) as f:
            old = f.read().strip()
        with open(STATS, "w") as f:
            f.write("1")
        try:
            res["events"] = measure.per_event(tools, args.reps)
        finally:
            with open(STATS, "w") as f:
                f.write(old)
    else:
        none = {"ns": None, "insns": None}
        res["events"] = [{"body": b, "rtrace": none, "bpftrace": none} for b in measure.EVENT_BODIES]
    res["stacks"] = measure.print_stacks(tools, args.reps) if "stacks" in only else {}
    rates = [int(r) for r in args.rates.split(",")]
    res["loss"] = measure.loss(tools, rates, args.loss_seconds) if "loss" in only else []
    res["compile"] = (measure.compile_time(tools, (10, 100, 1000), args.reps)
                      if "compile" in only else {})
    res["binary"] = {t: measure.binary(p) for t, p in tools.items()}
    return res


def load_text(start, end):
    """The 1-minute load averages at the start and the end of the run: a load above the CPU
    count means other work competed with the tracers (wall times suffer most)."""
    return "Load average (1 min) at the start and the end of the run: %.1f and %.1f on %d CPUs%s." % (
        start, end, os.cpu_count(),
        "; other work shared the machine" if max(start, end) > (os.cpu_count() or 1) else "")


def render(res, info, ver, args, seconds):
    neither = report.neither_loses(res["loss"])
    notes = report.errors(res)
    parts = [
        "Run on %s: Linux %s, %d CPUs, %s memory, %s." % (
            info["date"], info["kernel"], info["cpus"], info["memory"], info["cpu"]),
        "Versions: %s; %s; %s; Python %s." % (ver["rtrace"], ver["bpftrace"], ver["bpftool"], ver["python"]),
        "Medians of %d repetitions; the whole run took %.0f s." % (args.reps, seconds),
        load_text(*info["load"]),
        "",
        report.main_table(res),
        "",
        "### Per-event cost (kernel `bpf_stats`, ns per event, while `dd bs=1 count=%s` reads)"
        % format(measure.DD_READS, ","),
        "",
        report.per_event_table(res["events"]),
        "",
        "### Lossless rate (`printf` on every `getpid()` of the workload, output read by the benchmark)",
        "",
        report.loss_table(res["loss"]) if res["loss"] else "not run",
        "",
        "Highest rate at which neither tool lost an event: %s. A tool's lossless rate above is "
        "the highest rate it kept up with; its real limit lies below the rate of its first lossy "
        "run (%s)." % (
            "none of the rates tried" if neither is None else "%s/s" % format(int(neither), ","),
            ", ".join("%s: %s" % (t, _rate(report.next_lossy(res["loss"], t))) for t in ("rtrace", "bpftrace"))),
    ]
    if notes:
        parts += ["", "Errors and warnings during the run:", ""] + ["- " + n for n in notes]
    parts += ["", KNOWN_MISSES]
    return "\n".join(parts) + "\n"


def _rate(r):
    return "none lossy" if r is None else "%s/s" % format(int(r), ",")


KNOWN_MISSES = """### Why a target can be missed, and what would close it

- **Five probes, attach to exit (≤ 15 ms).** rtrace's own work for this script (compile, map
  creation, load, attach, BEGIN, printing) takes a few milliseconds of CPU; the rest of the wall
  time is the kernel detaching its four syscall and sched tracepoints at exit. Closing a
  tracepoint's perf event waits for RCU grace periods (`synchronize_rcu_tasks_trace` and
  `synchronize_rcu` in `perf_trace_destroy`), about 40 ms per tracepoint, partly under a global
  lock, so they cannot all overlap: rtrace closes them from several threads at once (about 300
  ms became about 200 ms). bpftrace pays the same waits. What would close the gap: attaching
  `syscalls:*` probes through raw tracepoints (`raw_syscalls:sys_enter`/`sys_exit`, filtered by
  syscall number, arguments read from `pt_regs`), whose BPF links are released without these
  waits. Not done yet: it changes how `args->field` is compiled for every syscall probe.
- **80 libc uprobes, start to attached (≤ 20 ms).** Most of the time is the kernel
  registering the uprobes, which no tool avoids: each `perf_event_open` of the uprobe PMU
  writes the breakpoint into every process that maps libc (about 0.1 ms per uprobe with 30
  such processes), under a global lock (`dup_mmap_sem`), so registrations cannot run in
  parallel; the first one also waits for an RCU grace period when that lock is first taken
  (`rcu_sync_enter`: 4 to 16 ms here, depending on the load). rtrace compiles in about 5 ms
  (libc's symbol index included, mapped once per file; a file's DWARF is read only when a
  probe uses `args`: reading libc's took 90 ms), then opens the uprobe events on a second
  thread started before anything else of the run (maps, programs), so that the grace period
  passes while the maps are created and the programs load, and attaches each program as soon
  as its event is open (starting that thread before the maps took the median from 26 to 19
  ms in runs one after another on a quiet machine; here, each run following the other tool's,
  it measured 21 to 25 ms: the grace period's length varies with what ran just before). Under
  `strace -f -ttt` here: the thread starts at 5 to 10 ms, the first uprobe is in place 8 to
  16 ms later, the last 7 to 8 ms after that.
  Loading one program for all 80 attach points would not shorten that path (the loads already
  overlap the grace period) and needs `probe` read at run time (here each program writes its
  own probe name into the key). Exiting takes about 8 s for both tools: the kernel
  unregisters each uprobe with its own RCU wait. What would help both: one
  `BPF_LINK_TYPE_UPROBE_MULTI` link per file (Linux 6.6+, one program with a cookie per
  attach point): one registration pass per uprobe instead of two, and one wait at exit.
- **Per-event cost of `@[kstack] = count()` (≤ 0.7×).** The kernel's `bpf_get_stackid`
  alone costs more than 0.7× of bpftrace's whole probe: measured the same way, `{ $k =
  kstack; }` costs 1,133 ns above the floor in rtrace and 1,147 ns in bpftrace (it unwinds
  about ten frames with the ORC unwinder, the BPF program's and the tracepoint's own before
  the four it records), and `{ @[kstack] = count(); }` 1,181 ns against 1,285 ns (medians
  of 3, load average 5 on 2 CPUs). Both tools emit the same call on the same stack map
  (`bpftool prog dump xlated`: 127 frames, 131,072 entries, flags 0); what follows it costs
  rtrace about 48 ns (one lookup, the per-CPU count incremented in place, an update only for
  a new stack) and bpftrace about 138 ns (a lookup and an update every time). Reaching 0.7×
  would need a cheaper unwind, which is the kernel's; `BPF_F_FAST_STACK_CMP` would save the
  frame comparison but give two stacks with the same hash one id, so it is not used.
- **Per-event cost.** The numbers come from the kernel's `bpf_stats` over a fixed workload,
  medians of the repetitions; on a shared 2-CPU machine single runs move by several ns, so a
  ratio near a target can flip between runs.
- **Wall times in milliseconds** include about 1.5 ms of the harness starting a process (the
  time `/bin/true` takes here).
"""


DOC_HEAD = """# Benchmarks

rtrace against bpftrace 0.17 on the same machine in the same run, produced by `bash bench/run`
(which rewrites this file). Method: [bench/README.md](../bench/README.md).

"""


def main():
    args = parse()
    only = set(args.only.split(","))
    tools = {"rtrace": os.path.abspath(args.rtrace), "bpftrace": args.bpftrace}
    proc.TMP = tempfile.mkdtemp(prefix="rtrace-bench.")

    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)

    # bench/run starts this in the background, where SIGINT arrives ignored; a handler
    # (instead of SIG_IGN) also lets every exec'd child, tracers included, get SIGINT again.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.monotonic()
    info = machine()
    info["date"] = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load_start = os.getloadavg()[0]
    try:
        ver = versions(args)
        res = run_all(args, tools, only)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        proc.cleanup()
        shutil.rmtree(proc.TMP, ignore_errors=True)
    info["load"] = (load_start, os.getloadavg()[0])
    text = render(res, info, ver, args, time.monotonic() - started)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(DOC_HEAD + text)
        print("bench: wrote %s" % args.out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
