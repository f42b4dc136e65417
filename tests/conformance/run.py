#!/usr/bin/env python3
"""Runs bpftrace 0.17's runtime test suite (tests/runtime/ of its source) against a
tracer binary run under the name `bpftrace`, following the directive semantics of the
suite's own engine, and compares the failures with known-failures.txt.

Written for rtrace; Python 3 standard library only. The suite itself is fetched at test
time by fetch.sh and never committed. Exit status: 0 when every failure is listed in the
known-failures file and every listed test still fails; 1 otherwise.
"""

import argparse
import concurrent.futures
import fnmatch
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MARKER = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"
ATTACH_TIMEOUT = 5  # seconds to wait for the probes-attached marker, as the engine does
KNOWN_DIRECTIVES = {
    "NAME", "RUN", "PROG", "EXPECT", "TIMEOUT", "BEFORE", "AFTER", "MIN_KERNEL",
    "MAX_KERNEL", "REQUIRES", "ENV", "ARCH", "REQUIRES_FEATURE", "WILL_FAIL",
}

# REQUIRES_FEATURE names that depend on what the kernel can load here. Those needing BPF
# trampolines (fentry/fexit, d_path, skb output) or kprobes are decided by the kernel checks
# below (iterators load here even though fentry does not: iter:task tests run); the rest are features every kernel this project targets has, or
# features of the tracer itself, and so run.
TRAMPOLINE_FEATURES = {"kfunc", "dpath", "skboutput"}


class Test:
    def __init__(self, group):
        self.group = group
        self.name = ""
        self.run = ""
        self.prog = ""
        self.expect = ""
        self.timeout = None
        self.before = ""
        self.after = ""
        self.min_kernel = ""
        self.max_kernel = ""
        self.requires = []
        self.env = {}
        self.arch = []
        self.features = set()
        self.neg_features = set()
        self.will_fail = False
        self.suffix = ""

    @property
    def full(self):
        return "%s.%s%s" % (self.group, self.name, self.suffix)


def parse_file(path):
    """Tests of one suite file: blocks separated by empty lines, '#' lines ignored."""
    group = os.path.basename(path)
    tests, block = [], []
    with open(path) as f:
        lines = f.readlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            continue
        if line != "\n":
            block.append(line)
        if (line == "\n" or i == len(lines) - 1) and block:
            tests.append(parse_block(block, group))
            block = []
    return [t for t in tests if not t.arch or platform.machine().lower() in t.arch]


def parse_block(block, group):
    t = Test(group)
    for line in block:
        words = line.split()
        key, rest = words[0], " ".join(words[1:])
        if key not in KNOWN_DIRECTIVES:
            raise SystemExit("%s: unknown directive %s" % (group, key))
        if key == "NAME":
            t.name = rest
        elif key == "RUN":
            t.run = rest
        elif key == "PROG":
            t.prog = rest
        elif key == "EXPECT":
            t.expect = rest
        elif key == "TIMEOUT":
            t.timeout = int(rest)
        elif key == "BEFORE":
            t.before = rest
        elif key == "AFTER":
            t.after = rest
        elif key == "MIN_KERNEL":
            t.min_kernel = rest
        elif key == "MAX_KERNEL":
            t.max_kernel = rest
        elif key == "REQUIRES":
            t.requires.append(rest)
        elif key == "ENV":
            for item in rest.split():
                k, v = item.split("=", 1)
                t.env[k] = v
        elif key == "ARCH":
            t.arch = [a.strip() for a in rest.split("|")]
        elif key == "REQUIRES_FEATURE":
            for feat in rest.split(" "):
                feat = feat.strip()
                if feat.startswith("!"):
                    t.neg_features.add(feat[1:])
                elif feat:
                    t.features.add(feat)
        elif key == "WILL_FAIL":
            t.will_fail = True
    if not t.name or not (t.run or t.prog) or (t.run and t.prog) or not t.expect \
            or t.timeout is None:
        raise SystemExit("%s: malformed test %r" % (group, t.name))
    return t


def read_suite(runtime_dir):
    tests = []
    for root, dirs, files in os.walk(runtime_dir):
        dirs[:] = [d for d in dirs if d not in ("engine", "scripts", "outputs")]
        for name in files:
            if not name.startswith("."):
                tests.extend(parse_file(os.path.join(root, name)))
    tests.sort(key=lambda t: (t.group, t.name))
    # A few files repeat a NAME: the second and later ones are told apart as NAME#2, ...
    seen = {}
    for t in tests:
        seen[t.full] = seen.get(t.full, 0) + 1
        if seen[t.full] > 1:
            t.suffix = "#%d" % seen[t.full]
    return tests


def version_tuple(text):
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


# --- what this kernel can run ------------------------------------------------------

def pmu(name):
    return os.path.isdir("/sys/bus/event_source/devices/" + name)


def trampolines_work():
    """fentry-style programs: overridable for kernels known to load them."""
    env = os.environ.get("RTRACE_CONFORMANCE_FENTRY")
    if env is not None:
        return env == "1"
    # Here PROG_LOAD of fentry programs fails with EPERM (lockdown); the kernel offers no
    # cheap test short of loading one, so the default follows this project's machines.
    return False


PROBE_RE = {
    "kprobe": r"\b(kprobe|kretprobe|k|kr):",
    "fentry": r"\b(kfunc|kretfunc|f|fr):[A-Za-z_*]",
    "watchpoint": r"\b(watchpoint|asyncwatchpoint|w|aw):",
    "hardware": r"\b(hardware|h):",
}


def test_text(test, workdir):
    """PROG or RUN text plus any script file the RUN line names."""
    text = test.prog or test.run
    for word in test.run.split():
        word = word.strip("'\"")
        if word.endswith(".bt"):
            path = os.path.join(workdir, word)
            if os.path.isfile(path):
                with open(path) as f:
                    text += "\n" + f.read()
    return text


def kernel_skip(test, workdir):
    """A reason when this kernel cannot run the test, else None."""
    # EXPECT counts too: listing tests expect kprobe: lines.
    text = test_text(test, workdir) + "\n" + test.expect
    lowname = test.full.lower()
    if (re.search(PROBE_RE["kprobe"], text) or "kprobe" in lowname) and not pmu("kprobe"):
        return "kernel has no kprobes"
    if (re.search(PROBE_RE["fentry"], text) or "kfunc" in lowname) and not trampolines_work():
        return "kernel cannot load fentry programs (kfunc)"
    if (re.search(PROBE_RE["watchpoint"], text) or "watchpoint" in lowname) and not pmu("breakpoint"):
        return "kernel has no hardware breakpoints"
    if (re.search(PROBE_RE["hardware"], text) or "hardware" in lowname) and not pmu("cpu"):
        return "kernel has no hardware perf events"
    if not trampolines_work() and test.features & TRAMPOLINE_FEATURES:
        return "kernel cannot load fentry programs (%s)" % ",".join(
            sorted(test.features & TRAMPOLINE_FEATURES))
    if "kprobe_multi" in test.features and not pmu("kprobe"):
        return "kernel has no kprobes (kprobe_multi)"
    if "uprobe_refcount" in test.neg_features:
        return "kernel has uprobe refcount (test needs its absence)"
    kver = version_tuple(os.uname().release)
    if test.min_kernel and version_tuple(test.min_kernel) > kver:
        return "min kernel %s" % test.min_kernel
    if test.max_kernel and version_tuple(test.max_kernel) < kver:
        return "max kernel %s" % test.max_kernel
    return None


# --- running one test --------------------------------------------------------------

def killpg(proc, sig=signal.SIGKILL):
    """Signals a process started in its own session and what it left in its group (a test
    program may fork and exit); a killed one is reaped, so that `pidof` no longer sees it
    when the next test waits for its own BEFORE program."""
    if not proc:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    if sig != signal.SIGKILL:
        return  # the caller still reads what a terminating process prints
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def pidof(name):
    out = subprocess.run(["pidof", name], capture_output=True, text=True).stdout.split()
    return out


class Result:
    def __init__(self, status, reason="", output="", seconds=0.0):
        self.status = status  # "pass", "fail", "skip"
        self.reason = reason
        self.output = output
        self.seconds = seconds


def failure_reason(output, expect, timed_out, saw_marker, test, code):
    # bpftrace 0.17 warns about RLIMIT_MEMLOCK on every run here; that is not the failure.
    lines = [l.strip() for l in output.splitlines()
             if l.strip() and l.strip() != MARKER and "RLIMIT_MEMLOCK" not in l]
    err = next((l for l in lines if re.search(r"\berror\b", l, re.I)), None)
    if any(l.startswith("Traceback") for l in lines):
        # A test's own checker (python3 -c ...) failed on the tracer's output.
        reason = "checker failed: " + lines[-1]
    elif err:
        # Drop a leading FILE:LINE:COL location and the "error:"/"ERROR:" tag.
        err = re.sub(r"^\S*:\d+:\d+(-\d+)?:\s*", "", err)
        err = re.sub(r"^(error|ERROR):\s*", "", err)
        reason = err
    elif timed_out:
        if test.after and not saw_marker:
            reason = "timeout: no probes-attached marker, so AFTER never ran"
        else:
            reason = "timeout: expected output not seen"
    elif code not in (0, None) and not test.will_fail:
        reason = "exit code %d: %s" % (code, lines[0] if lines else "no output")
    else:
        got = lines[0] if lines else ""
        if lines and lines[0].startswith("Attaching") and len(lines) > 1:
            got = lines[1]
        reason = "output differs: got %r" % got[:60]
    return reason.replace("\t", " ")[:140]


def run_test(test, ctx):
    start = time.time()
    for req in test.requires:
        rc = subprocess.call(req, shell=True, cwd=ctx.workdir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             env={"PATH": ctx.bindir + ":" + os.environ.get("PATH", "")})
        if rc != 0:
            return Result("skip", "REQUIRES unmet: " + req)

    before = proc = after = None
    output = ""
    timed_out = saw_marker = False
    try:
        if test.before:
            before = subprocess.Popen(test.before, shell=True, cwd=ctx.workdir,
                                      start_new_session=True)
            child = os.path.basename(test.before.split()[-1])
            waited = 0.0
            while not pidof(child):
                time.sleep(0.1)
                waited += 0.1
                if waited > test.timeout:
                    return Result("fail", "BEFORE %s did not start" % test.before)

        bpftrace = os.path.join(ctx.bindir, "bpftrace")
        if test.run:
            call = test.run.replace("{{BPFTRACE}}", bpftrace)
        else:
            call = "%s -e '%s'" % (bpftrace, test.prog)
        if test.before and "{{BEFORE_PID}}" in call:
            pids = pidof(child)
            if not pids:
                return Result("fail", "BEFORE %s exited early" % test.before)
            call = call.replace("{{BEFORE_PID}}", pids[0])

        # The environment is exactly the engine's: no PATH (sh then uses its default).
        env = {"test": test.name, MARKER: "1",
               "__BPFTRACE_NOTIFY_AOT_PORTABILITY_DISABLED": "1",
               "BPFTRACE_VERIFY_LLVM_IR": "1"}
        env.update(test.env)
        proc = subprocess.Popen(call, shell=True, cwd=ctx.workdir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        fd = proc.stdout.fileno()
        deadline = time.time() + ATTACH_TIMEOUT
        buf = b""
        pending = b""
        eof = False
        while not eof:
            left = deadline - time.time()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                eof = True
                break
            buf += chunk
            if not saw_marker:
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line == MARKER.encode():
                        saw_marker = True
                        deadline = time.time() + (test.timeout or 5)
                        if test.after:
                            after = subprocess.Popen(test.after, shell=True, cwd=ctx.workdir,
                                                     start_new_session=True)
                        break
        if timed_out:
            # As the engine does: SIGTERM for a clean exit, then look at what was printed.
            killpg(proc, signal.SIGTERM)
            end = time.time() + 5
            while time.time() < end:
                ready, _, _ = select.select([fd], [], [], end - time.time())
                if not ready:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
        killpg(proc)  # whatever still holds the pipe open
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        output = buf.decode("utf-8", "replace").replace("\r\n", "\n")
        if timed_out:
            matched = re.search(test.expect, output)
        else:
            matched = re.search(test.expect, output, re.M)
    finally:
        killpg(before)
        killpg(proc)
        killpg(after)
    secs = time.time() - start
    code = proc.returncode
    if not timed_out and code != 0 and not test.will_fail:
        return Result("fail", failure_reason(output, test.expect, False, saw_marker, test, code),
                      output, secs)
    if matched:
        return Result("pass", "", output, secs)
    return Result("fail", failure_reason(output, test.expect, timed_out, saw_marker, test, code),
                  output, secs)


def parallel_safe(test, workdir):
    """Tests that cannot see or disturb other tests' processes may run side by side: those
    without BEFORE/AFTER whose probes do not watch other processes (tracepoints, uprobes,
    usdt, software events, comm == "bpftrace", pids), and that do not clear and read the
    kernel's one trace buffer (debugf's tests: run side by side, one clears what another
    printed)."""
    if test.before or test.after or test.group in ("signals", "usdt", "uprobe"):
        return False
    text = test_text(test, workdir)
    if "tracing/trace" in text:
        return False
    return not re.search(r"bpftrace|pidof|pkill|\b(uprobe|uretprobe|usdt|tracepoint|"
                         r"rawtracepoint|software|u|ur|U|t|rt|s):", text)


# --- setting up ---------------------------------------------------------------------

def build_testprogs(tests_dir, workdir):
    """Builds tests/testprogs and tests/testlibs as the suite's CMake does."""
    cc = os.environ.get("CC", "cc")
    sdt = os.path.exists("/usr/include/x86_64-linux-gnu/sys/sdt.h") or \
        os.path.exists("/usr/include/sys/sdt.h")
    defs = ["-DHAVE_SYSTEMTAP_SYS_SDT_H"] if sdt else []
    libdir = os.path.join(workdir, "testlibs")
    progdir = os.path.join(workdir, "testprogs")
    os.makedirs(libdir, exist_ok=True)
    os.makedirs(progdir, exist_ok=True)

    def stale(out, src):
        return not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src)

    def cc_run(args):
        r = subprocess.run([cc] + args, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("conformance: building failed: %s\n%s" % (" ".join(args), r.stderr))

    for src in sorted(os.listdir(os.path.join(tests_dir, "testlibs"))):
        if src.endswith(".c"):
            name = src[:-2]
            out = os.path.join(libdir, "lib%s.so" % name)
            path = os.path.join(tests_dir, "testlibs", src)
            if stale(out, path):
                cc_run(["-g", "-O0", "-fPIC", "-shared"] + defs + ["-o", out, path])
                os.chmod(out, 0o644)
    for src in sorted(os.listdir(os.path.join(tests_dir, "testprogs"))):
        if src.endswith(".c"):
            name = src[:-2]
            out = os.path.join(progdir, name)
            path = os.path.join(tests_dir, "testprogs", src)
            if stale(out, path):
                extra = []
                if name == "usdt_lib":
                    extra = ["-fPIC", "-I", os.path.join(tests_dir, "testlibs"),
                             "-L", libdir, "-lusdt_tp", "-Wl,-rpath," + libdir]
                cc_run(["-g", "-O0", "-no-pie"] + defs + ["-o", out, path] + extra)


class Context:
    pass


def load_known(path):
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.startswith("#"):
                    continue
                name, _, reason = line.partition("\t")
                known[name.strip()] = reason.strip()
    return known


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/rtrace"),
                    help="tracer to test; it runs as `bpftrace` (default: rtrace release build)")
    ap.add_argument("--source", required=True, help="unpacked bpftrace source directory")
    ap.add_argument("--known", default=os.path.join(HERE, "known-failures.txt"))
    ap.add_argument("--no-known", action="store_true",
                    help="report only; do not compare with the known-failures file")
    ap.add_argument("--write-known", action="store_true",
                    help="rewrite the known-failures file from this run's failures")
    ap.add_argument("--filter", default="*", help="glob on GROUP.NAME")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("CONFORMANCE_JOBS", "3")))
    ap.add_argument("-v", "--verbose", action="store_true", help="print failing output")
    args = ap.parse_args()

    tests_dir = os.path.join(os.path.abspath(args.source), "tests")
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        raise SystemExit("conformance: %s is not executable" % binary)

    # The engine runs from the build's tests/ directory: testprogs/, testlibs/, runtime/.
    workdir = os.path.join(os.path.dirname(os.path.abspath(args.source)), "build")
    os.makedirs(workdir, exist_ok=True)
    link = os.path.join(workdir, "runtime")
    if not os.path.islink(link):
        os.symlink(os.path.join(tests_dir, "runtime"), link)
    build_testprogs(tests_dir, workdir)

    bindir = tempfile.mkdtemp(prefix="conformance-bin-")
    os.symlink(binary, os.path.join(bindir, "bpftrace"))
    ctx = Context()
    ctx.workdir, ctx.bindir = workdir, bindir

    tests = [t for t in read_suite(os.path.join(tests_dir, "runtime"))
             if fnmatch.fnmatch(t.full, args.filter)]
    results = {}
    to_run = []
    for t in tests:
        reason = kernel_skip(t, workdir)
        if reason:
            results[t.full] = Result("skip", reason)
        else:
            to_run.append(t)

    lock = threading.Lock()

    def one(t):
        try:
            r = run_test(t, ctx)
        except Exception as e:  # a runner problem is reported as that test's failure
            r = Result("fail", "runner error: %r" % e)
        with lock:
            results[t.full] = r
            tag = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[r.status]
            print("%s %-55s %5.1fs %s" % (tag, t.full, r.seconds, r.reason), flush=True)
            if args.verbose and r.status == "fail":
                print("    | " + r.output.replace("\n", "\n    | "), flush=True)

    started = time.time()
    par = [t for t in to_run if parallel_safe(t, workdir)]
    ser = [t for t in to_run if not parallel_safe(t, workdir)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(one, par))
        for t in ser:
            one(t)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    wall = time.time() - started

    known = {} if args.no_known else load_known(args.known)
    passed = [n for n, r in results.items() if r.status == "pass"]
    failed = [n for n, r in results.items() if r.status == "fail"]
    skipped = [n for n, r in results.items() if r.status == "skip"]
    selected = {t.full for t in tests}
    unexpected = sorted(n for n in failed if n not in known)
    known_failing = sorted(n for n in failed if n in known)
    # A reason starting "flaky:" marks a test whose outcome depends on timing or on other
    # processes of the machine: either outcome is accepted.
    flaky = {n for n, r in known.items() if r.startswith("flaky:")}
    now_passing = sorted(n for n in passed if n in known and n not in flaky)
    flaky_passed = sorted(n for n in passed if n in flaky)
    # Listed tests that no longer exist or are now skipped also make the list stale.
    stale = sorted(n for n in known if n in selected and results[n].status == "skip")

    if args.write_known:
        with open(args.known, "w") as f:
            f.write("# bpftrace 0.17 runtime tests rtrace does not pass yet: GROUP.NAME<TAB>reason.\n"
                    "# tests/conformance/run.sh fails when a test not listed here fails, and when a listed test\n"
                    "# passes (remove it then). A reason starting \"flaky:\" accepts either outcome. Regenerate\n"
                    "# with run.sh --write-known (flaky lines are kept).\n")
            merged = {n: results[n].reason for n in failed}
            merged.update({n: known[n] for n in flaky if n in selected})
            if args.filter != "*":  # keep what this run did not look at
                merged.update({n: r for n, r in known.items() if n not in selected})
            for n in sorted(merged):
                f.write("%s\t%s\n" % (n, merged[n]))
        print("wrote %s (%d tests)" % (args.known, len(merged)))

    groups = {}
    for t in tests:
        g = groups.setdefault(t.group, {"pass": 0, "known": 0, "fail": 0, "skip": 0})
        r = results[t.full]
        if r.status == "pass":
            g["fail" if t.full in known and t.full not in flaky else "pass"] += 1
        elif r.status == "skip":
            g["skip"] += 1
        else:
            g["known" if t.full in known else "fail"] += 1
    print("\nper group (passed / known failures / failed / skipped):")
    for name in sorted(groups):
        g = groups[name]
        print("  %-15s %3d / %3d / %3d / %3d" % (name, g["pass"], g["known"], g["fail"], g["skip"]))

    if skipped:
        print("\nskipped:")
        for n in sorted(skipped):
            print("  %s: %s" % (n, results[n].reason))
    bad = 0
    if not args.no_known and not args.write_known:
        for n in unexpected:
            print("UNEXPECTED FAILURE %s: %s" % (n, results[n].reason))
        for n in now_passing:
            print("NOW PASSES (remove from %s) %s" % (os.path.basename(args.known), n))
        for n in stale:
            print("LISTED BUT SKIPPED (remove from %s) %s" % (os.path.basename(args.known), n))
        bad = len(unexpected) + len(now_passing) + len(stale)
        print("\n%d passed, %d failed" % (len(passed) - len(now_passing), bad))
        print("%d known failures, %d skipped, %d tests, %.0f s wall"
              % (len(known_failing), len(skipped), len(tests), wall))
        if flaky_passed:
            print("(%d passed of those listed as flaky: %s)"
                  % (len(flaky_passed), ", ".join(flaky_passed)))
    else:
        # Report-only runs (--no-known, --write-known) count every failure.
        bad = len(failed) if args.no_known else 0
        print("\n%d passed, %d failed" % (len(passed), len(failed)))
        print("%d skipped, %d tests, %.0f s wall" % (len(skipped), len(tests), wall))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
