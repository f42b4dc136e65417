"""A held workload for the lossless-rate measurement: getpid() at a paced rate.

The process names itself `rtbench_load` so a tracer can filter on `comm`, then obeys commands
on stdin, one a line, and answers each on stdout:
  ping             one getpid(); answers `ok`
  go RATE COUNT    COUNT getpid() calls paced at RATE a second (0: as fast as possible);
                   answers `done SECONDS`
End of input ends the process.
"""

import os
import sys
import time

NAME = "rtbench_load"


def paced(rate, count):
    """Issue `count` getpid() calls, `rate` a second; return the seconds taken."""
    getpid = os.getpid
    clock = time.perf_counter
    start = clock()
    if rate <= 0:
        for _ in range(count):
            getpid()
        return clock() - start
    # Batches of about 1 ms worth of calls, then sleep until the schedule catches up.
    batch = max(1, rate // 1000)
    done = 0
    while done < count:
        n = min(batch, count - done)
        for _ in range(n):
            getpid()
        done += n
        ahead = start + done / rate - clock()
        if ahead > 0:
            time.sleep(ahead)
    return clock() - start


def main():
    with open("/proc/self/comm", "w") as comm:
        comm.write(NAME)
    out = sys.stdout
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "ping":
            os.getpid()
            out.write("ok\n")
        elif words[0] == "go":
            seconds = paced(int(words[1]), int(words[2]))
            out.write("done %.6f\n" % seconds)
        out.flush()


if __name__ == "__main__":
    main()
