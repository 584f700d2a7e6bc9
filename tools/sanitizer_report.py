"""Sum up AddressSanitizer / LeakSanitizer / UBSan or valgrind memcheck logs
and decide what is tlsfast's.

    python tools/sanitizer_report.py asan LOGDIR      (files asan.PID, ubsan.PID)
    python tools/sanitizer_report.py valgrind LOGDIR  (files vg.PID.log)

A record (an error, or a leak with its allocation stack) is *attributable to
tlsfast* when a frame of its stack is in the extension (``_tls_c``: the
Cython-generated C, so also OpenSSL calls made from it) or, for UBSan, the
report points into tlsfast's sources.  The rest -- CPython's allocations that
live until exit, cffi / cryptography (pulled in by trustme), the test tools
-- is counted and shown as "other" only.

Leaks whose stack stops inside libssl/libcrypto (no frame pointers there;
fast unwinding cannot walk past them) are counted apart as "unresolved":
rerun what made them with ``fast_unwind_on_malloc=0`` to attribute them.

Exit status: 1 if any attributable error or definite leak, else 0.
"""

from __future__ import annotations

import collections
import os
import re
import sys

OURS = re.compile(r"_tls_c|tlsfast/_[a-z_]+\.(pyx|pxi)")


def frames_of(lines):
    return [l for l in lines if re.search(r"#\d+ 0x|(at|by) 0x[0-9A-Fa-f]+:", l)]


def first_frame(frames, skip=("malloc", "calloc", "realloc", "operator new", "interceptor",
                              "CRYPTO_", "asan", "vgpreload")):
    for f in frames:
        if not any(s in f for s in skip):
            return re.sub(r"^.*?(in |0x[0-9A-Fa-f]+: )", "", f.strip())[:160]
    return frames[0].strip()[:160] if frames else "?"


LEAK = re.compile(r"(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) "
                  r"allocated from:\n((?:    #.*\n?)+)")
MARK = re.compile(r"^lsan-per-module: checking after (\S+)$", re.M)
#: module -> {kind: bytes} of the leaks that first grew after it (per-module checks)
BY_MODULE = collections.defaultdict(collections.Counter)


def _leak_sections(text):
    """[(module or None, text)]: the per-module LeakSanitizer checks of
    tools/lsan_per_module.py, then the exit-time report (module None)."""
    marks = list(MARK.finditer(text))
    if not marks:
        return [(None, text)]
    sections = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end():end]
        done = body.find("lsan-per-module: done after")
        sections.append((m.group(1), body[:done] if done >= 0 else body))
        if done >= 0 and i + 1 == len(marks):
            sections.append(("(exit)", body[done:]))
    return sections


def parse_asan(path):
    """Yield (kind, attributable, nbytes, summary, text) from one ASan/LSan/UBSan log.
    With per-module checks a leak stack is counted once, with the bytes it
    grew by after each module (BY_MODULE)."""
    text = open(path, errors="replace").read()
    seen = {}            # leak stack -> bytes at the last check
    for module, section in _leak_sections(text):
        for m in LEAK.finditer(section):
            stack = m.group(4).splitlines()
            kind = "leak-definite" if m.group(1) == "Direct" else "leak-indirect"
            ours = bool(OURS.search(m.group(4)))
            callers = [f for f in stack[1:] if "asan_malloc" not in f and "interceptor" not in f]
            if not ours and callers and all(re.search(r"libssl|libcrypto", f) for f in callers):
                # the stack stops inside OpenSSL (no frame pointers there): with
                # fast unwinding nobody can tell whose allocation it was
                kind += "-unresolved"
            key = (kind, re.sub(r"0x[0-9a-f]+ ", "", m.group(4)))
            nbytes = int(m.group(2))
            grew = nbytes - seen.get(key, 0)
            seen[key] = max(nbytes, seen.get(key, 0))
            if grew <= 0:
                continue
            if module is not None:
                BY_MODULE[module][kind + (" (tlsfast)" if ours else "")] += grew
            yield kind, ours, grew, first_frame(stack), m.group(0)
    # AddressSanitizer errors (the report runs to the SUMMARY line)
    for m in re.finditer(r"ERROR: AddressSanitizer: ([\w-]+).*?(?:SUMMARY: AddressSanitizer.*?\n|\Z)",
                         text, re.S):
        if "LeakSanitizer" in m.group(0)[:80]:
            continue
        stack = frames_of(m.group(0).splitlines())
        yield "asan-" + m.group(1), bool(OURS.search(m.group(0))), 0, first_frame(stack), m.group(0)
    # UBSan: "<file>:<line>:<col>: runtime error: ..."
    for m in re.finditer(r"^(.*?): runtime error: (.*)$", text, re.M):
        yield "ubsan", bool(OURS.search(m.group(1))), 0, f"{m.group(1)}: {m.group(2)}"[:200], m.group(0)


VG_ERRORS = re.compile(r"^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|"
                       r"Syscall param|Mismatched free|Source and destination overlap|"
                       r"Argument '.*' of function)")


def parse_valgrind(path):
    text = open(path, errors="replace").read()
    pid = re.search(r"==(\d+)==", text)
    if not pid:
        return
    prefix = f"=={pid.group(1)}=="
    block = []
    for raw in text.splitlines() + [prefix]:
        # valgrind's own lines carry the prefix; --gen-suppressions blocks do
        # not, and end a record like a blank line does
        line = raw[len(prefix):].strip() if raw.startswith(prefix) else ""
        if line == "":
            if block:
                head = block[0]
                body = "\n".join(block)
                frames = frames_of(block)
                # "N bytes in B blocks are definitely lost", or with indirect
                # bytes hanging off them: "T (D direct, I indirect) bytes in ..."
                m = re.match(r"([\d,]+) (?:\(([\d,]+) direct, [\d,]+ indirect\) )?"
                             r"bytes in [\d,]+ blocks are (definitely|indirectly|possibly) lost", head)
                if m:
                    yield ("leak-" + m.group(3), bool(OURS.search(body)),
                           int((m.group(2) or m.group(1)).replace(",", "")), first_frame(frames), body)
                elif VG_ERRORS.match(head):
                    yield ("vg-" + head.split(" of ")[0].split(" depends")[0][:40],
                           bool(OURS.search(body)), 0, first_frame(frames), body)
            block = []
        else:
            block.append(line)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("asan", "valgrind"):
        sys.exit(__doc__)
    mode, logdir = argv[1], argv[2]
    parse = parse_asan if mode == "asan" else parse_valgrind
    files = sorted(os.path.join(logdir, f) for f in os.listdir(logdir)) if os.path.isdir(logdir) else []
    counts = collections.Counter()
    other = collections.Counter()
    ours = []
    for path in files:
        for kind, attributable, nbytes, summary, text in parse(path):
            counts[(kind, attributable)] += 1
            if attributable:
                ours.append((kind, os.path.basename(path), text))
            else:
                other[(kind, summary)] += max(nbytes, 1) if kind.startswith("leak") else 1
    print(f"{mode}: {len(files)} log file(s) in {logdir}")
    kinds = sorted({k for k, _ in counts})
    for kind in kinds:
        print(f"  {kind:28s} tlsfast: {counts[(kind, True)]:5d}   other: {counts[(kind, False)]:5d}")
    if not kinds:
        print("  no errors, no leaks reported")
    if other:
        print("  largest 'other' records (bytes for leaks, count for errors):")
        for (kind, summary), n in other.most_common(8):
            print(f"    {n:8d}  {kind:18s} {summary}")
    if BY_MODULE:
        print("  leaks by the module after which they first appeared (bytes):")
        for module, kinds in sorted(BY_MODULE.items()):
            print(f"    {module}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    bad = [o for o in ours if not o[0].endswith(("indirect", "possibly"))
           and not o[0].endswith("indirect-unresolved")]
    for kind, name, text in bad[:20]:
        print(f"\n--- attributable to tlsfast: {kind} ({name}) ---\n{text[:4000]}")
    unresolved = sum(v for (k, _), v in counts.items() if k.endswith("-unresolved")
                     and "definite" in k)
    if unresolved:
        print(f"\n{unresolved} definite leak record(s) have stacks ending inside libssl/libcrypto "
              "(fast unwinding stops there): rerun the tests that made them with "
              "ASAN_OPTIONS=...:fast_unwind_on_malloc=0 to see whose they are")
    errors = sum(1 for o in bad if not o[0].startswith("leak"))
    leaks = sum(1 for o in bad if o[0].startswith("leak"))
    print(f"\n{mode} verdict: {errors} error(s) and {leaks} definite leak(s) attributable to tlsfast")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
