"""Tables from the measurements: one Markdown text printed to the terminal and written to
docs/BENCHMARKS.md, each target judged met or missed."""

MIB = 1024 * 1024


def _num(x, fmt="%.1f"):
    return "n/a" if x is None else fmt % x


def _ratio(a, b):
    if a is None or b is None or b <= 0:
        return "n/a"
    return "%.2f" % (a / b)


def _verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _at_most(x, limit):
    return None if x is None else x <= limit


def lossless(rows, tool):
    """(rate, is_lower_bound): the highest achieved rate of a lossless run with every lower
    target rate lossless too; a lower bound when even the last (highest) run lost nothing."""
    best = None
    for row in rows:
        r = row.get(tool, {})
        if "error" in r or r.get("missing", 1) != 0 or r.get("lost", 1) != 0:
            return best, False
        best = r["achieved"] if best is None else max(best, r["achieved"])
    return best, best is not None


def growth(ms):
    """'linear' when the per-probe cost from 100 to 1,000 probes is at most 1.5x that from 10
    to 100 (or the whole growth is under 2 ms), with both marginal costs as text."""
    t10, t100, t1000 = ms.get(10), ms.get(100), ms.get(1000)
    if None in (t10, t100, t1000):
        return None, "n/a"
    a, b = (t100 - t10) / 90, (t1000 - t100) / 900
    ok = (t1000 - t10) < 2 or b <= 1.5 * max(a, 0.001)
    return ok, "%.3f then %.3f ms/probe" % (a, b)


def main_table(res):
    rows = []  # (measurement, rtrace, bpftrace, ratio, target, verdict)

    def pair(label, key, fmt, unit, data, target_text, limit):
        r, b = data["rtrace"].get(key), data["bpftrace"].get(key)
        rows.append((label, _num(r, fmt) + unit, _num(b, fmt) + unit, _ratio(r, b), target_text,
                     _verdict(_at_most(r, limit))))

    s = res["startup"]
    pair("`BEGIN { exit(); }` wall", "wall_ms", "%.1f", " ms", s, "≤ 5 ms", 5)
    pair("`BEGIN { exit(); }` peak RSS", "rss_mib", "%.1f", " MiB", s, "≤ 8 MiB", 8)
    k = res["struct"]
    pair("`BEGIN { @ = curtask->real_parent->pid; exit(); }` wall (BTF read)", "wall_ms",
         "%.1f", " ms", k, "≤ 10 ms", 10)
    f = res["five"]
    pair("five probes, attach to exit: wall", "wall_ms", "%.1f", " ms", f, "≤ 15 ms", 15)
    pair("five probes, attach to exit: peak RSS", "rss_mib", "%.1f", " MiB", f, "≤ 8 MiB", 8)
    pair("80 libc uprobes: start to attached", "wall_ms", "%.1f", " ms", res["uprobes"],
         "≤ 20 ms", 20)

    ev = per_event_rows(res["events"])
    ratios = [e["ratio"] for e in ev[1:] if e["ratio"] is not None]
    worst = max(ratios) if ratios else None
    within = sum(1 for x in ratios if x <= 0.7)
    rows.append(("per-event cost above floor (worst ratio of %d scripts)" % (len(ev) - 1),
                 "%d of %d within 0.7×" % (within, len(ev) - 1), "", _num(worst, "%.2f"),
                 "≤ 0.7× bpftrace",
                 _verdict(None if worst is None or len(ratios) < len(ev) - 1 else worst <= 0.7)))
    more = [e for e in ev if e["ri"] is not None and e["bi"] is not None and e["ri"] > e["bi"]]
    known = all(e["ri"] is not None and e["bi"] is not None for e in ev)
    rows.append(("BPF instructions (xlated), scripts where rtrace has more",
                 "%d of %d" % (len(more), len(ev)), "", "", "never more",
                 _verdict(None if not known else not more)))

    st = res.get("stacks") or {}
    if st:
        r, b = st["rtrace"], st["bpftrace"]

        def cell(x):
            if x.get("s") is None:
                return "n/a"
            return "%.2f s (%s entries, %s named)" % (x["s"], format(x["entries"] or 0, ","),
                                                    format(x["named"] or 0, ","))
        rows.append(("print a map of %s distinct user stacks, symbols named"
                     % format(st.get("stacks", 0), ","),
                     cell(r), cell(b), _ratio(r.get("s"), b.get("s")), "", ""))

    lr, lr_bound = lossless(res["loss"], "rtrace")
    lb, lb_bound = lossless(res["loss"], "bpftrace")
    ok = None
    if lr is not None and lb is not None:
        if not lb_bound:
            ok = lr >= 2 * lb if not lr_bound or lr >= 2 * lb else None
        elif not lr_bound and lr < 2 * lb:
            ok = False
    elif lb is not None and lr is None:
        ok = False
    rows.append(("lossless printf rate", _rate(lr, lr_bound), _rate(lb, lb_bound), _ratio(lr, lb),
                 "≥ 2× bpftrace", _verdict(ok)))

    c = res["compile"]
    for n in sorted(c):
        r, b = c[n]["rtrace"]["ms"], c[n]["bpftrace"]["ms"]
        target, verdict = ("≤ 50 ms", _verdict(_at_most(r, 50))) if n == 1000 else ("", "")
        rows.append(("compile %s probes" % format(n, ","), _num(r) + " ms", _num(b) + " ms",
                     _ratio(r, b), target, verdict))
    gr_ok, gr_text = growth({n: c[n]["rtrace"]["ms"] for n in c})
    _, gb_text = growth({n: c[n]["bpftrace"]["ms"] for n in c})
    rows.append(("compile-time growth", gr_text, gb_text, "", "linear", _verdict(gr_ok)))

    br, bb = res["binary"]["rtrace"], res["binary"]["bpftrace"]
    rows.append(("binary, stripped", "%.2f MiB" % (br["stripped"] / MIB),
                 "%.2f MiB" % (bb["stripped"] / MIB), _ratio(br["stripped"], bb["stripped"]),
                 "≤ 5 MiB", _verdict(br["stripped"] <= 5 * MIB)))
    rows.append(("shared libraries linked (count, total size)",
                 "%d, %.1f MiB (%s)" % (len(br["libs"]), br["libs_size"] / MIB,
                                        ", ".join(lib["name"] for lib in br["libs"])),
                 "%d, %.1f MiB" % (len(bb["libs"]), bb["libs_size"] / MIB),
                 _ratio(br["libs_size"], bb["libs_size"]), "", ""))
    rows.append(("libraries beyond libc", ", ".join(br["beyond_libc"]) or "none",
                 "%d libraries" % len(bb["beyond_libc"]), "", "none", _verdict(not br["beyond_libc"])))
    return _md(["measurement (median)", "rtrace", "bpftrace 0.17", "rtrace/bpftrace", "target", ""], rows)


def _rate(rate, bound):
    if rate is None:
        return "none"
    return ("≥ " if bound else "") + "%s/s" % format(int(round(rate, -2)), ",")


def per_event_rows(events):
    floor = events[0]
    out = []
    for e in events:
        r, b = e["rtrace"], e["bpftrace"]
        ra = _minus(r["ns"], floor["rtrace"]["ns"])
        ba = _minus(b["ns"], floor["bpftrace"]["ns"])
        ratio = ra / ba if ra is not None and ba is not None and ba > 0 else None
        out.append({"body": e["body"], "r": r["ns"], "b": b["ns"], "ra": ra, "ba": ba,
                    "ratio": ratio, "ri": r["insns"], "bi": b["insns"]})
    return out


def _minus(a, b):
    return None if a is None or b is None else a - b


def per_event_table(events):
    rows = []
    for i, e in enumerate(per_event_rows(events)):
        floor = i == 0
        rows.append(("`%s`%s" % (e["body"], " (floor)" if floor else ""),
                     _num(e["r"]), _num(e["b"]),
                     "" if floor else _num(e["ra"]), "" if floor else _num(e["ba"]),
                     "" if floor else _num(e["ratio"], "%.2f"),
                     "" if floor else _verdict(None if e["ratio"] is None else e["ratio"] <= 0.7),
                     _num(e["ri"], "%d"), _num(e["bi"], "%d"),
                     _verdict(None if e["ri"] is None or e["bi"] is None else e["ri"] <= e["bi"])))
    return _md(["`tracepoint:syscalls:sys_enter_read` body", "rtrace ns", "bpftrace ns",
                "rtrace above floor", "bpftrace above floor", "ratio", "≤ 0.7×",
                "rtrace insns", "bpftrace insns", "≤ bpftrace"], rows)


def loss_table(loss):
    rows = []
    for row in loss:
        cells = ["max" if row["rate"] == 0 else format(row["rate"], ",")]
        for tool in ("rtrace", "bpftrace"):
            r = row[tool]
            if "error" in r:
                cells += ["error", r["error"][:60], ""]
            else:
                cells += [format(int(r["achieved"]), ","),
                          "%s / %s" % (format(r["printed"], ","), format(r["generated"], ",")),
                          format(r["lost"], ",")]
        rows.append(cells)
    return _md(["target rate/s", "rtrace rate/s", "rtrace printed", "rtrace reports lost",
                "bpftrace rate/s", "bpftrace printed", "bpftrace reports lost"], rows)


def next_lossy(loss, tool):
    """The achieved rate of a tool's first lossy run: its real limit lies below it."""
    for row in loss:
        r = row.get(tool, {})
        if "error" not in r and (r.get("missing") or r.get("lost")):
            return r["achieved"]
    return None


def neither_loses(loss):
    best = None
    for row in loss:
        rs = [row[t] for t in ("rtrace", "bpftrace")]
        if any("error" in r or r["missing"] or r["lost"] for r in rs):
            break
        best = min(r["achieved"] for r in rs)
    return best


def _md(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def errors(res):
    notes = []
    for part in ("startup", "five", "uprobes"):
        for tool, r in res[part].items():
            if r.get("error"):
                notes.append("%s %s: %s" % (part, tool, r["error"]))
    for n, row in res["compile"].items():
        for tool, r in row.items():
            if r.get("error"):
                notes.append("compile %d %s: %s" % (n, tool, r["error"]))
    for tool, r in (res.get("stacks") or {}).items():
        if isinstance(r, dict) and r.get("error"):
            notes.append("print stacks %s: %s" % (tool, r["error"]))
    for e in res["events"]:
        for tool in ("rtrace", "bpftrace"):
            if e[tool].get("error"):
                notes.append("per event `%s` %s: %s" % (e["body"], tool, e[tool]["error"]))
    return notes
