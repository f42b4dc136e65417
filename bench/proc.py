"""Child processes for the benchmark: timed runs, running tracers, and their BPF programs.

Every child is started here, carries a deadline after which it is killed, and is ended by
`cleanup()` when the benchmark stops early.
"""

import os
import re
import signal
import subprocess
import threading
import tempfile
import time

TMP = None  # scratch directory, set by bench.py
LIVE = {}  # pid -> Popen of every child not yet reaped
LOCK = threading.Lock()


class Timeout(Exception):
    pass


def _spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    with LOCK:
        LIVE[p.pid] = p
    return p


def _reap(p, deadline):
    """Wait for `p` until `deadline` (perf_counter), SIGKILL it past that; return (status, rusage)."""
    left = max(0.0, deadline - time.perf_counter())
    killer = threading.Timer(left, _kill, (p.pid,))
    killer.start()
    try:
        _, status, rusage = os.wait4(p.pid, 0)
    finally:
        killer.cancel()
        with LOCK:
            LIVE.pop(p.pid, None)
    p.returncode = os.waitstatus_to_exitcode(status)
    if time.perf_counter() >= deadline and p.returncode == -signal.SIGKILL:
        raise Timeout("%s: killed after its time limit" % " ".join(p.args[:3]))
    return p.returncode, rusage


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def cleanup():
    """End every child still running: SIGINT first (tracers detach), SIGKILL after 2 s."""
    with LOCK:
        live = list(LIVE.values())
    for p in live:
        _kill(p.pid, signal.SIGINT)
    end = time.monotonic() + 2
    for p in live:
        while p.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        if p.poll() is None:
            _kill(p.pid)
            p.wait()
        with LOCK:
            LIVE.pop(p.pid, None)


class Run:
    """A finished run: wall seconds, peak RSS in KiB, exit code."""

    def __init__(self, wall, rss_kib, code):
        self.wall, self.rss_kib, self.code = wall, rss_kib, code


def run(argv, timeout, env=None):
    """Run `argv` to its end (killed after `timeout` s), output discarded; its wall time from
    spawn to reap, and its peak RSS from a second run under GNU time: a child forked from this
    Python process starts with Python's pages counted in its ru_maxrss (exec does not reset
    the high-water mark), which would hide anything smaller than the interpreter, and timing
    the run under GNU time would add its fork and exec to the wall time."""
    t0 = time.perf_counter()
    p = _spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, env=env)
    code, rusage = _reap(p, t0 + timeout)
    wall = time.perf_counter() - t0
    return Run(wall, peak_rss_kib(argv, timeout, env, rusage.ru_maxrss), code)


def peak_rss_kib(argv, timeout, env, fallback):
    """Peak RSS of `argv` as GNU time reports it; `fallback` without /usr/bin/time."""
    if not os.access("/usr/bin/time", os.X_OK):
        return fallback
    fd, path = tempfile.mkstemp(prefix="bench-rss.")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        p = _spawn(["/usr/bin/time", "-f", "%M", "-o", path] + list(argv),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
        _reap(p, t0 + timeout)
        with open(path) as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return fallback
    finally:
        os.unlink(path)


def capture(argv, timeout=30):
    """The stdout of a short command (versions, ldd), '' when it fails."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.decode(errors="replace")


LOST = re.compile(rb"Lost (\d+) events")


class Tracer:
    """A tracer left running: its output is read as it comes, counting lines that end with
    `marker`, noting `Attaching` and summing `Lost N events` from stdout and stderr.
    With `quiet`, stdout goes to /dev/null and only stderr is read."""

    def __init__(self, argv, timeout, marker=None, quiet=False, extra=None):
        self.deadline = time.perf_counter() + timeout
        self.marker = marker
        self.count = 0
        # Occurrences of `extra` anywhere in stdout (within lines read together).
        self.extra = extra
        self.named = 0
        self.lost = 0
        self.attached = threading.Event()
        self.err = bytearray()
        self.cond = threading.Condition()
        out = subprocess.DEVNULL if quiet else subprocess.PIPE
        self.p = _spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE)
        self.pid = self.p.pid
        self.threads = [threading.Thread(target=self._read, args=(self.p.stderr, True))]
        if not quiet:
            self.threads.append(threading.Thread(target=self._read, args=(self.p.stdout, False)))
        for t in self.threads:
            t.daemon = True
            t.start()

    def _read(self, pipe, is_err):
        fd = pipe.fileno()
        carry = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if is_err and len(self.err) < 65536:
                self.err += chunk
            buf = carry + chunk
            cut = buf.rfind(b"\n") + 1
            lines, carry = buf[:cut], buf[cut:]
            self._lines(lines)
        self._lines(carry + b"\n" if carry else b"")

    def _lines(self, lines):
        if not lines:
            return
        n = lines.count(self.marker + b"\n") if self.marker else 0
        named = lines.count(self.extra) if self.extra else 0
        lost = sum(int(m) for m in LOST.findall(lines))
        with self.cond:
            self.count += n
            self.named += named
            self.lost += lost
            if b"Attaching" in lines:
                self.attached.set()
            self.cond.notify_all()

    def wait_attached(self, timeout=30):
        if not self.attached.wait(timeout):
            raise Timeout("no 'Attaching' line within %d s: %s" % (timeout, self.stderr_tail()))

    def wait_count(self, target, quiet, timeout):
        """Wait until `target` marker lines were read, or none came for `quiet` s; return count."""
        end = time.monotonic() + timeout
        with self.cond:
            last, since = self.count, time.monotonic()
            while self.count < target and time.monotonic() < end:
                self.cond.wait(min(quiet, 0.05))
                if self.count != last:
                    last, since = self.count, time.monotonic()
                elif time.monotonic() - since >= quiet:
                    break
            return self.count

    def exited(self):
        """The exit code once the tracer ended on its own (it is then reaped), else None."""
        code = self.p.poll()
        if code is not None:
            with LOCK:
                LIVE.pop(self.pid, None)
        return code

    def stderr_tail(self):
        return self.err.decode(errors="replace").strip()[-400:]

    def stop(self, timeout=30):
        """SIGINT the tracer (probes detach, maps print); wait for it and its output. A tracer
        still running `timeout` s later is killed, and `self.hung` says so."""
        self.hung = False
        if self.p.returncode is None:
            _kill(self.pid, signal.SIGINT)
            try:
                _reap(self.p, min(self.deadline, time.perf_counter() + timeout))
            except Timeout:
                self.hung = True
        for t in self.threads:
            t.join(5)
        return self.p.returncode


BPF_PROG_TYPE_TRACEPOINT = 5


def tracepoint_progs(pid):
    """The tracepoint programs `pid` holds, from /proc/PID/fdinfo: dicts with the fd's path,
    prog_id, run_time_ns and run_cnt."""
    progs = []
    base = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(base):
        info = prog_info("%s/%s" % (base, fd))
        if info and info.get("prog_type") == BPF_PROG_TYPE_TRACEPOINT and "run_cnt" in info:
            info["path"] = "%s/%s" % (base, fd)
            progs.append(info)
    return progs


def prog_info(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    info = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if value.isdigit():
            info[key] = int(value)
    return info


def helper(argv):
    """A helper process (the workload) driven through its stdin and stdout, line by line."""
    return _spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def ask(p, line, timeout):
    """Send `line` to a helper and return its one-line answer; kill it past `timeout` s."""
    killer = threading.Timer(timeout, _kill, (p.pid,))
    killer.start()
    try:
        p.stdin.write(line + "\n")
        p.stdin.flush()
        answer = p.stdout.readline()
    finally:
        killer.cancel()
    if not answer:
        raise Timeout("workload gave no answer to %r" % line)
    return answer.split()


def finish(p, timeout=10):
    """Close a helper's input and reap it."""
    try:
        p.stdin.close()
    except OSError:
        pass
    _reap(p, time.perf_counter() + timeout)
