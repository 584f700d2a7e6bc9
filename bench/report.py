"""The run's environment, the terminal table, JSON, Markdown and the PNG plot."""

import datetime
import json
import os
import platform
import resource
import shutil
import ssl
import subprocess

from .common import CIPHERSUITE, GROUP, IMPLS, LABELS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args):
    try:
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(cfloor_info=None, compile_cmd=None):
    import tlsfast
    env = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "openssl_stdlib": ssl.OPENSSL_VERSION,
        "tlsfast": tlsfast.__version__,
        "tlsfast_impl_default": tlsfast.__impl__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "tls": f"TLS 1.3, {CIPHERSUITE}, {GROUP}, client verifies a trustme CA",
        "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
    }
    try:
        import tlsfast._tls_c as c
        env["openssl_tlsfast_c"] = c.OPENSSL_VERSION
    except ImportError:
        env["openssl_tlsfast_c"] = None
    try:
        import OpenSSL
        from OpenSSL import SSL
        env["pyopenssl"] = OpenSSL.__version__
        env["openssl_pyopenssl"] = SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    except ImportError:
        env["pyopenssl"] = None
    if cfloor_info:
        env["openssl_c_floor"] = cfloor_info.get("openssl")
        env["c_floor_headers"] = cfloor_info.get("headers")
    if compile_cmd:
        env["c_floor_compile"] = compile_cmd
        cc = compile_cmd.split()[0]
        try:
            env["cc"] = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                       timeout=10).stdout.splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            env["cc"] = None
    return env


# --- formatting ------------------------------------------------------------

def fmt_value(unit, v):
    if v is None:
        return "-"
    if unit == "ns":
        return f"{v:,.0f}"
    if unit == "rate":
        return f"{v / 1000:,.1f}k" if v >= 10000 else f"{v:,.0f}"
    if unit == "MB/s":
        return f"{v:,.0f}"
    if unit == "bytes":
        return f"{v:,.1f}"
    return f"{v:g}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def _impls_in(results):
    present = {n for r in results for n in r["impls"]}
    return [n for n in IMPLS if n in present]


def _unit_header(r):
    return {"ns": "ns/call", "rate": "per s", "MB/s": "MB/s", "bytes": "KiB/conn"}[r["unit"]]


def table_rows(results, what="value"):
    """Rows of strings: workload, unit, one column per implementation."""
    impls = _impls_in(results)
    rows = []
    for r in results:
        row = [r["name"], _unit_header(r)]
        for n in impls:
            d = r["impls"].get(n)
            if d is None:
                row.append("err" if n in r["errors"] else "")
            elif what == "value":
                row.append(fmt_value(r["unit"], d["value"]))
            elif what == "cpu":
                row.append(fmt_value(r["unit"], d["cpu_value"]))
            else:
                row.append(fmt_ratio(d[what]))
        rows.append(row)
    return impls, rows


def plain_rows(results):
    """(impls, rows) for the TLS rows that name a no-TLS row: each column's
    ratio to the same loop without TLS (the C floor to its no-TLS run, the
    Python columns to Python's), then the bound for tlsfast (c) as a ratio to
    the C floor, wall and CPU (``runner``'s module docstring)."""
    with_plain = [r for r in results if r.get("plain") and
                  any(d.get("x_plain") is not None for d in r["impls"].values())]
    if not with_plain:
        return [], []
    impls, rows = table_rows(with_plain, "x_plain")
    _, cpu_rows = table_rows(with_plain, "x_plain_cpu")
    out = []
    for r, row, cpu_row in zip(with_plain, rows, cpu_rows):
        out.append([r["name"], "wall"] + row[2:] + [fmt_ratio(r.get("bound"))])
        out.append([r["name"], "cpu"] + cpu_row[2:] + [fmt_ratio(r.get("bound_cpu"))])
    return impls, out


PLAIN_TITLE = ("Cost ratio to the same loop without TLS (C floor / C floor no TLS; Python "
               "columns / Python no TLS); bound = (Python no TLS + C TLS - C no TLS) / C TLS, "
               "tlsfast (c)'s ratio to C if its TLS work cost what C's does:")
BOUND = "bound x C"


def _text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def target_rows(results):
    rows = []
    for r in results:
        for t in r["targets"]:
            met = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
            rows.append([r["name"], f"{LABELS[t['impl']]} {t['text']}",
                         fmt_ratio(t["ratio"]) + (" (x C)" if t["against"] == "c-floor"
                                                  else f" (x {t['against']}, cost)"),
                         met])
    return rows


def terminal(results, env):
    impls, rows = table_rows(results, "value")
    header = ["workload", "unit"] + [LABELS[n] for n in impls]
    _, ratio_rows = table_rows(results, "x_c")
    _, cpu_ratio_rows = table_rows(results, "x_c_cpu")
    parts = ["Figures (medians; ns/call lower is better, per s and MB/s higher is better):",
             _text_table(header, rows), "",
             "Cost ratio to the C floor, wall time (median of per-repetition ratios; 1.00 = C):",
             _text_table(header, ratio_rows), "",
             "Cost ratio to the C floor, CPU time of the measured process:",
             _text_table(header, cpu_ratio_rows), ""]
    p_impls, prows = plain_rows(results)
    if prows:
        parts += [PLAIN_TITLE, _text_table(["workload", "clock"] + [LABELS[n] for n in p_impls]
                                           + [BOUND], prows), ""]
    trows = target_rows(results)
    if trows:
        parts += ["Targets (tlsfast (c)):", _text_table(["workload", "target", "ratio", ""], trows), ""]
    errors = [(r["name"], n, e) for r in results for n, e in r["errors"].items()]
    for name, impl, err in errors:
        parts.append(f"ERROR {name} [{impl}]: {err}")
    parts.append(f"load average at start {env['load_average_start']}, "
                 f"end {env.get('load_average_end')}")
    return "\n".join(parts)


def markdown(results, env, command, png_name=None):
    impls, rows = table_rows(results, "value")
    header = ["workload", "unit"] + [LABELS[n] for n in impls]
    _, cpu_rows = table_rows(results, "cpu")
    _, ratio_rows = table_rows(results, "x_c")
    _, cpu_ratio_rows = table_rows(results, "x_c_cpu")
    _, std_rows = table_rows(results, "x_stdlib")
    titles = "\n".join(f"* `{r['name']}`: {r['title']}" + (f" -- {r['note']}" if r["note"] else "")
                       for r in results)
    envlines = "\n".join(f"| {k} | {v} |" for k, v in env.items())
    parts = [
        f"Command: `{command}`  ",
        f"Date: {env['date']}; {env['cpu_model']}, {env['cores']} cores; "
        f"load average {env['load_average_start']} at start, {env.get('load_average_end')} at end.",
        "",
        "### Figures (medians over repetitions; wall time)",
        "",
        "ns/call: lower is better; per s and MB/s: higher is better; KiB/conn: RSS per idle connection.",
        "",
        _md_table(header, rows),
        "",
        "### Cost ratio to the C floor (wall time; median of per-repetition ratios; 1.00 = C, lower is better)",
        "",
        _md_table(header, ratio_rows),
        "",
    ]
    if png_name:
        parts += [f"![ratios to the C floor]({png_name})", ""]
    parts += [
        "### Cost ratio to the C floor, CPU time of the measured process",
        "",
        _md_table(header, cpu_ratio_rows),
        "",
        "### Figures by CPU time of the measured process",
        "",
        _md_table(header, cpu_rows),
        "",
        "### Cost ratio to stdlib `ssl` (wall; < 1.00 means cheaper than the stdlib)",
        "",
        _md_table(header, std_rows),
        "",
    ]
    p_impls, prows = plain_rows(results)
    if prows:
        parts += ["### Cost ratio to the same loop without TLS", "", PLAIN_TITLE.rstrip(":") + ".",
                  "", _md_table(["workload", "clock"] + [LABELS[n] for n in p_impls] + [BOUND],
                                prows), ""]
    trows = target_rows(results)
    if trows:
        parts += ["### Targets", "", _md_table(["workload", "target", "ratio", "status"], trows), ""]
    errors = [(r["name"], n, e) for r in results for n, e in r["errors"].items()]
    if errors:
        parts += ["### Errors", ""] + [f"* `{w}` [{i}]: {e}" for w, i, e in errors] + [""]
    parts += ["### Workloads", "", titles, "", "### Environment", "", "| | |", "|:--|:--|", envlines, ""]
    return "\n".join(parts)


def plot(results, path):
    """Horizontal grouped bars: each implementation's cost ratio to the C
    floor per workload (log scale), tlsfast (c)'s C-floor targets marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    impls = [n for n in _impls_in(results) if n != "c-floor"]
    rows = [r for r in results if any(r["impls"].get(n, {}).get("x_c") for n in impls)]
    if not rows:
        return False
    colors = {"tlsfast-c": "#1f77b4", "tlsfast-python": "#9ecae1", "stdlib": "#ff7f0e",
              "pyopenssl": "#2ca02c", "python-plain": "#7f7f7f"}
    height = 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.6))
    for i, n in enumerate(impls):
        ys = [k + (i - (len(impls) - 1) / 2) * height for k in range(len(rows))]
        xs = [r["impls"].get(n, {}).get("x_c") or 0 for r in rows]
        ax.barh(ys, xs, height=height, label=LABELS[n], color=colors.get(n))
        if n == "tlsfast-c":
            for y, x in zip(ys, xs):
                if x:
                    ax.text(x * 1.03, y, f"{x:.2f}", va="center", fontsize=7)
    for k, r in enumerate(rows):
        for t in r["targets"]:
            if t["against"] == "c-floor":
                ax.plot([t["max_ratio"]] * 2, [k - 0.45, k + 0.45], color="black", lw=1.5)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["name"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("cost ratio to the C floor (wall time, median; lower is better; "
                  "black tick: tlsfast (c) target)")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def to_json(results, env, args):
    return json.dumps({"environment": env, "args": args, "workloads": results}, indent=1,
                      default=str)


def doc_header(path):
    """The hand-written part of ``docs/benchmarks.md`` (``path``): the text
    before its ``## Latest run`` section, kept as it is when the run is
    rewritten."""
    with open(path) as f:
        text = f.read()
    head, sep, _ = text.partition(LATEST_RUN)
    if not sep:
        raise ValueError(f"{path}: no {LATEST_RUN.strip()!r} section to rewrite")
    return head


LATEST_RUN = "## Latest run\n"


def write_outputs(results, env, args, out_dir, command, update_docs=False):
    os.makedirs(out_dir, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(out_dir, f"bench-{stamp}")
    paths = {"json": base + ".json", "md": base + ".md", "png": base + ".png"}
    with open(paths["json"], "w") as f:
        f.write(to_json(results, env, args))
    try:
        has_png = plot(results, paths["png"])
    except ImportError:
        has_png = False
    if not has_png:
        paths.pop("png")
    md = markdown(results, env, command, os.path.basename(paths["png"]) if has_png else None)
    with open(paths["md"], "w") as f:
        f.write(f"# tlsfast benchmark run {stamp}\n\n" + md)
    for kind, p in paths.items():
        shutil.copyfile(p, os.path.join(out_dir, f"latest.{kind}"))
    if update_docs:
        docs = os.path.join(REPO, "docs")
        static = os.path.join(docs, "_static")
        os.makedirs(static, exist_ok=True)
        if has_png:
            shutil.copyfile(paths["png"], os.path.join(static, "benchmarks.png"))
        md_docs = markdown(results, env, command, "_static/benchmarks.png" if has_png else None)
        page = os.path.join(docs, "benchmarks.md")
        header = doc_header(page)
        with open(page, "w") as f:
            f.write(header + LATEST_RUN + "\n" + md_docs)
        paths["docs"] = os.path.join(docs, "benchmarks.md")
    return paths
