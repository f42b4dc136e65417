"""The six measurements, each run for rtrace and bpftrace in turn; results are plain dicts
that report.py turns into tables."""

import json
import os
import statistics
import subprocess
import sys
import time

import proc

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN_EXIT = "BEGIN { exit(); }"

# A script that reads kernel structs through BTF, run to its exit: start-up includes reading
# the kernel's BTF.
STRUCT_EXIT = "BEGIN { @ = curtask->real_parent->pid; exit(); }"

FIVE_PROBES = """\
tracepoint:syscalls:sys_enter_openat { @start[tid] = nsecs; }
tracepoint:syscalls:sys_exit_openat {
  @lat = hist(nsecs - @start[tid]);
  delete(@start[tid]);
  @ret = lhist(args->ret, 0, 100, 10);
  @rets = stats(args->ret);
}
tracepoint:syscalls:sys_enter_read { @reads = count(); @bytes = sum(args->count); }
tracepoint:sched:sched_process_exec { printf("exec %s\\n", str(args->filename)); }
BEGIN { exit(); }
"""

# Bodies attached to tracepoint:syscalls:sys_enter_read; the first is the floor.
EVENT_BODIES = [
    "{ }",
    "{ @ = count(); }",
    "{ @[comm] = count(); }",
    "{ @[pid, comm] = sum(args->count); }",
    '/comm == "dd"/ { @[tid] = count(); }',
    "{ @ = hist(args->count); }",
    "{ @ = lhist(args->count, 0, 100, 10); }",
    '{ printf("%d %s\\n", pid, comm); }',
    "{ @[curtask->real_parent->pid] = count(); }",
    "{ @[kstack] = count(); }",
]
DD_READS = 200000
DD = ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=%d" % DD_READS, "status=none"]

LOAD_NAME = "rtbench_load"
LOSS_SCRIPT = ('tracepoint:syscalls:sys_enter_getpid /comm == "%s"/ '
               '{ printf("%%d %%s\\n", pid, comm); }' % LOAD_NAME)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def startup(tools, script, reps, label):
    """Wall time (ms) and peak RSS (MiB) of running `script` to its exit, medians over reps."""
    path = os.path.join(proc.TMP, "startup.bt")
    with open(path, "w") as f:
        f.write(script)
    walls = {t: [] for t in tools}
    rss = {t: [] for t in tools}
    errors = {}
    for rep in range(reps + 1):  # rep 0 warms caches and is not counted
        for name, tool in tools.items():
            try:
                r = proc.run([tool, path], timeout=60)
            except proc.Timeout as e:
                errors[name] = str(e)
                continue
            if r.code != 0:
                errors[name] = "exit code %d" % r.code
            elif rep > 0:
                walls[name].append(r.wall * 1000)
                rss[name].append(r.rss_kib / 1024)
    log("%s: %s" % (label, ", ".join("%s %.1f ms %.1f MiB" % (t, median(walls[t]) or 0, median(rss[t]) or 0) for t in tools)))
    return {t: {"wall_ms": median(walls[t]), "rss_mib": median(rss[t]), "error": errors.get(t)}
            for t in tools}


def _wait_prog(tracer, timeout=30):
    """The tracepoint program of `tracer`, once attached and run: a read() by this process
    fires it (a filtered program still runs and counts). This is the readiness signal."""
    pid = tracer.pid
    end = time.monotonic() + timeout
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        while time.monotonic() < end:
            if tracer.exited() is not None:
                raise RuntimeError("exited with %d: %s" % (tracer.p.returncode, tracer.stderr_tail()))
            progs = proc.tracepoint_progs(pid)
            if len(progs) == 1:
                before = progs[0]["run_cnt"]
                os.read(fd, 1)
                info = proc.prog_info(progs[0]["path"])
                if info and info.get("run_cnt", 0) > before:
                    return progs[0]
            elif len(progs) > 1:
                raise RuntimeError("tracer %d holds %d tracepoint programs" % (pid, len(progs)))
            time.sleep(0.002)
    finally:
        os.close(fd)
    raise proc.Timeout("tracer %d: no running tracepoint program after %d s" % (pid, timeout))


def xlated_insns(prog_id):
    out = proc.capture(["bpftool", "prog", "show", "id", str(prog_id), "-j"])
    try:
        return json.loads(out)["bytes_xlated"] // 8
    except (ValueError, KeyError):
        return None


def _event_sample(tool, script):
    """One tracer run: (ns per event over one dd, xlated instructions, whether the tracer
    had to be killed after SIGINT)."""
    t = proc.Tracer([tool, "-e", script], timeout=120, quiet=True)
    try:
        prog = _wait_prog(t)
        a = proc.prog_info(prog["path"])
        proc.run(DD, timeout=60)
        b = proc.prog_info(prog["path"])
        insns = xlated_insns(prog["prog_id"])
    finally:
        t.stop(timeout=15)
    runs = b["run_cnt"] - a["run_cnt"]
    return ((b["run_time_ns"] - a["run_time_ns"]) / runs if runs > 0 else None), insns, t.hung


def per_event(tools, reps):
    """ns per event from the kernel's bpf_stats while dd reads byte by byte, each tool alone,
    the tools taking turns (a fresh tracer for each repetition); the program's counters are
    read while the tracer still runs."""
    results = []
    for body in EVENT_BODIES:
        script = "tracepoint:syscalls:sys_enter_read " + body
        samples = {n: [] for n in tools}
        row = {"body": body}
        for name in tools:
            row[name] = {"ns": None, "insns": None}
        failed = {n: [] for n in tools}
        hung = {n: 0 for n in tools}
        for _ in range(reps):
            for name, tool in tools.items():
                if len(failed[name]) >= 2:  # a script this tool cannot run: stop trying
                    continue
                try:
                    ns, insns, killed = _event_sample(tool, script)
                except (proc.Timeout, RuntimeError, OSError) as e:
                    failed[name].append(str(e))
                    continue
                if ns is not None:
                    samples[name].append(ns)
                row[name]["insns"] = insns
                hung[name] += killed
        for name in tools:
            row[name]["ns"] = median(samples[name])
            notes = ["%d of %d runs failed: %s" % (len(failed[name]), reps, failed[name][-1])] if failed[name] else []
            if hung[name]:
                notes.append("%d run(s) did not exit within 15 s of SIGINT and were killed "
                             "(their samples, taken before, are kept)" % hung[name])
            if notes:
                row[name]["error"] = "; ".join(notes)
        log("per event %-40s %s" % (body, ", ".join(
            "%s %s ns %s insns" % (n, _f(row[n]["ns"]), row[n]["insns"]) for n in tools)))
        results.append(row)
    return results


def _f(x):
    return "-" if x is None else "%.1f" % x


def loss_run(tool, rate, count):
    """One tracer printing every getpid() of the held workload; the workload runs `count`
    calls at `rate`/s once the tracer printed a first ping."""
    t = proc.Tracer([tool, "-e", LOSS_SCRIPT], timeout=180, marker=(" " + LOAD_NAME).encode())
    gen = proc.helper([sys.executable, os.path.join(HERE, "loadgen.py")])
    try:
        t.wait_attached()
        pings = 0
        while t.count == 0:
            if pings >= 60:
                raise proc.Timeout("no ping printed by %s" % tool)
            proc.ask(gen, "ping", 10)
            pings += 1
            t.wait_count(1, quiet=0.3, timeout=0.3)
        t.wait_count(pings, quiet=0.3, timeout=1)  # late pings, if any, before counting
        start = t.count
        secs = float(proc.ask(gen, "go %d %d" % (rate, count), 120)[1])
        t.wait_count(start + count, quiet=0.5, timeout=60)
    finally:
        t.stop()
        proc.finish(gen)
    if t.hung:
        raise proc.Timeout("%s did not exit within 30 s of SIGINT" % tool)
    printed = t.count - start
    return {"rate": rate, "achieved": count / secs, "generated": count, "printed": printed,
            "missing": count - printed, "lost": t.lost}


def loss(tools, rates, seconds):
    """Every (tool, rate) once: achieved rate, events printed against generated, and the loss
    the tool itself reports."""
    rows = []
    for rate in rates:
        count = int(rate * seconds) if rate > 0 else int(1_000_000 * seconds)
        row = {"rate": rate}
        for name, tool in tools.items():
            try:
                row[name] = loss_run(tool, rate, count)
            except (proc.Timeout, OSError) as e:
                row[name] = {"error": str(e)}
        log("loss at %s/s: %s" % (rate or "max", ", ".join(
            "%s %s" % (n, _loss_text(row[n])) for n in tools)))
        rows.append(row)
    return rows


def _loss_text(r):
    if "error" in r:
        return "error: " + r["error"]
    return "%d/%d printed at %.0f/s, reports %d lost" % (r["printed"], r["generated"], r["achieved"], r["lost"])


def compile_time(tools, sizes, reps):
    """ms to compile N probes without loading: rtrace --compile-only; bpftrace 0.17 --emit-elf
    (its dry run: parse, LLVM codegen, ELF written, nothing loaded)."""
    results = {}
    for n in sizes:
        path = os.path.join(proc.TMP, "probes%d.bt" % n)
        with open(path, "w") as f:
            for k in range(n):
                f.write("tracepoint:syscalls:sys_enter_read /pid == %d/ { @c%d = count(); }\n" % (k + 1, k))
        env = dict(os.environ, BPFTRACE_MAX_PROBES=str(n + 10), BPFTRACE_MAX_BPF_PROGS=str(n + 10))
        row = {}
        for name, tool in tools.items():
            if name == "rtrace":
                argv = [tool, "--compile-only", path]
            else:
                argv = [tool, "--emit-elf", os.path.join(proc.TMP, "out.elf"), path]
            times, err = [], None
            for rep in range(reps + 1):
                try:
                    r = proc.run(argv, timeout=300, env=env)
                except proc.Timeout as e:
                    err = str(e)
                    break
                if r.code != 0:
                    err = "exit code %d" % r.code
                    break
                if rep > 0:
                    times.append(r.wall * 1000)
            row[name] = {"ms": median(times), "error": err}
        log("compile %d probes: %s" % (n, ", ".join("%s %s ms" % (t, _f(row[t]["ms"])) for t in tools)))
        results[n] = row
    return results


# A program whose `leaf` is reached through 14 levels of `a` and `b` chosen by the bits of a
# counter: every call has its own user stack. It waits for a line on stdin, makes COUNT calls,
# calls `finished`, prints `done` and stays until stdin closes (so that its symbols can still
# be read when the tracer prints).
STACKS_C = r"""
#include <stdio.h>
#include <stdlib.h>
#define DEPTH 14
__attribute__((noinline)) void leaf(void) { __asm__ volatile(""); }
__attribute__((noinline)) void finished(void) { __asm__ volatile(""); }
void b(int d, unsigned n);
__attribute__((noinline)) void a(int d, unsigned n)
{ if (d == DEPTH) leaf(); else if (n >> d & 1) a(d + 1, n); else b(d + 1, n); }
__attribute__((noinline)) void b(int d, unsigned n)
{ if (d == DEPTH) leaf(); else if (n >> d & 1) a(d + 1, n); else b(d + 1, n); }
int main(int argc, char **argv)
{
    unsigned count = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (unsigned n = 0; n < count; n++) a(0, n);
    finished();
    printf("done\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {}
    return 0;
}
"""
STACKS = 10000


def _stack_program():
    src = os.path.join(proc.TMP, "stacks.c")
    exe = os.path.join(proc.TMP, "stacks")
    with open(src, "w") as f:
        f.write(STACKS_C)
    r = proc.run(["cc", "-O0", "-fno-omit-frame-pointer", "-o", exe, src], timeout=120)
    if r.code != 0:
        raise RuntimeError("cc failed to build the stack program")
    return exe


def _print_stacks_once(tool, exe):
    """One run: the program makes STACKS calls with distinct user stacks, counted by
    `@[ustack]`; its `finished` ends the tracer. Returns (seconds from the program's `done`
    to the tracer's exit, entries printed, frames named `leaf+0`)."""
    prog = proc.helper([exe, str(STACKS)])
    script = ("uprobe:%s:leaf /pid == %d/ { @[ustack] = count(); } "
              "uprobe:%s:finished /pid == %d/ { exit(); }" % (exe, prog.pid, exe, prog.pid))
    t = proc.Tracer([tool, "-e", script], timeout=600, marker=b"]: 1", extra=b"    leaf+0\n")
    try:
        t.wait_attached(60)
        # bpftrace prints `Attaching` before it attaches; both tools write this line to
        # stderr once every probe is attached (__BPFTRACE_NOTIFY_PROBES_ATTACHED is set).
        end = time.monotonic() + 60
        while b"__BPFTRACE_NOTIFY_PROBES_ATTACHED" not in t.err:
            if time.monotonic() > end or t.exited() is not None:
                raise proc.Timeout("%s: probes not attached: %s" % (tool, t.stderr_tail()))
            time.sleep(0.01)
        prog.stdin.write("go\n")
        prog.stdin.flush()
        line = ""
        while not line.startswith("done"):
            line = prog.stdout.readline()
            if not line:
                raise RuntimeError("the stack program ended early")
        start = time.perf_counter()
        proc._reap(t.p, t.deadline)
        seconds = time.perf_counter() - start
        for th in t.threads:
            th.join(5)
    finally:
        t.stop()
        proc.finish(prog)
    return seconds, t.count, t.named


def print_stacks(tools, reps):
    """Seconds to print a map of STACKS distinct user stacks, symbols named (both tools
    cache the program's symbols: bpftrace with BPFTRACE_CACHE_USER_SYMBOLS=1)."""
    exe = _stack_program()
    keys = ("BPFTRACE_MAP_KEYS_MAX", "BPFTRACE_CACHE_USER_SYMBOLS", "__BPFTRACE_NOTIFY_PROBES_ATTACHED")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["BPFTRACE_MAP_KEYS_MAX"] = str(2 * STACKS)
    os.environ["BPFTRACE_CACHE_USER_SYMBOLS"] = "1"
    os.environ["__BPFTRACE_NOTIFY_PROBES_ATTACHED"] = "1"
    out = {}
    try:
        for name, tool in tools.items():
            times, entries, named, err = [], None, None, None
            for _ in range(reps):
                try:
                    s, entries, named = _print_stacks_once(tool, exe)
                    times.append(s)
                except (proc.Timeout, RuntimeError, OSError) as e:
                    err = str(e)
                    break
            out[name] = {"s": median(times), "entries": entries, "named": named, "error": err}
            log("print %d stacks: %s %s s, %s entries, %s named" % (
                STACKS, name, _f(out[name]["s"]), entries, named))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out["stacks"] = STACKS
    return out


GLIBC = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so")


def binary(path):
    """Stripped size and shared libraries (name, resolved path, size) of an executable."""
    stripped = os.path.join(proc.TMP, os.path.basename(path) + ".stripped")
    proc.run(["strip", "-o", stripped, path], timeout=60)
    libs = []
    for line in proc.capture(["ldd", path]).splitlines():
        words = line.split()
        if not words:
            continue
        name = words[0]
        target = words[2] if len(words) > 2 and words[1] == "=>" else (name if name.startswith("/") else None)
        size = os.path.getsize(os.path.realpath(target)) if target and os.path.exists(target) else 0
        libs.append({"name": os.path.basename(name), "size": size})
    beyond = [lib["name"] for lib in libs if not lib["name"].startswith(GLIBC)]
    return {"size": os.path.getsize(path), "stripped": os.path.getsize(stripped), "libs": libs,
            "libs_size": sum(lib["size"] for lib in libs), "beyond_libc": beyond}


# 80 libc functions (every 60th function of libc's listing without `_`, `@` or `.` in the name).
def libc_uprobe_script(rtrace, count=80):
    """A script with `count` uprobes on libc functions and a 1 ms exit, from rtrace's listing."""
    out = subprocess.run([rtrace, "-l", "uprobe:libc:*"], capture_output=True, text=True,
                         timeout=60).stdout.split()
    names = [l.rsplit(":", 1)[-1] for l in out]
    names = [n for n in names if n[:1] != "_" and "@" not in n and "." not in n]
    step = max(1, len(names) // count)
    pick = names[::step][:count]
    return ",\n".join("uprobe:libc:" + n for n in pick) + " { @[probe] = count(); }\n" \
        "interval:ms:1 { exit(); }\n", len(pick)


def uprobes_attach(tools, reps, rtrace):
    """Milliseconds from start to the `Attaching N probes...` line for 80 libc uprobes (symbols
    resolved, programs loaded, uprobes registered), medians over reps. The run then exits;
    its teardown (the kernel unregistering each uprobe) is not counted."""
    script, n = libc_uprobe_script(rtrace)
    path = os.path.join(proc.TMP, "uprobes.bt")
    with open(path, "w") as f:
        f.write(script)
    times = {t: [] for t in tools}
    errors = {}
    for rep in range(reps + 1):  # rep 0 warms caches and is not counted
        for name, tool in tools.items():
            start = time.perf_counter()
            p = proc._spawn([tool, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
            line = p.stdout.readline()
            took = (time.perf_counter() - start) * 1000
            try:
                code, _ = proc._reap(p, time.perf_counter() + 120)
            except proc.Timeout as e:
                errors[name] = str(e)
                continue
            if not line.startswith("Attaching"):
                errors[name] = "no Attaching line (exit code %d)" % code
            elif rep > 0:
                times[name].append(took)
    log("%d libc uprobes attached: %s" % (n, ", ".join("%s %.1f ms" % (t, median(times[t]) or 0)
                                                          for t in tools)))
    return {t: {"wall_ms": median(times[t]), "error": errors.get(t)} for t in tools}
