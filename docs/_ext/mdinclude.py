"""``.. markdown-include:: FILE`` -- include a Markdown file in a reST page.

``docs/benchmarks.md`` is written (and rewritten by ``python -m tlsfast
bench --update-docs``) as Markdown; the site shows it as it is, without a
copy that could drift and without a Markdown parser dependency.  This turns
the small Markdown subset that file uses into reST and parses it in place:

* ATX headings (``#`` .. ``####``); ``:skip-title:`` drops the first ``#``
  heading (the including page has its own title).  ``##`` becomes the
  including page's second level (``-``), ``###`` the third (``~``),
  ``####`` the fourth (``^``).
* paragraphs, with ``code``, ``**bold**``, ``*emphasis*``, ``[text](url)``
  and hard line breaks (two trailing spaces: a reST line block);
* ``*`` / ``-`` bullet lists (continuation lines indented);
* fenced code blocks (the fence's language, else ``text``);
* pipe tables (header row, alignment row, body rows) as ``list-table``;
* images on their own line, ``![alt](path)``, path relative to the
  Markdown file.

Anything else is passed through as paragraph text.  Warnings in the result
point at the Markdown file and line.
"""

from __future__ import annotations

import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)\s*$")
_BULLET = re.compile(r"^([*-])\s+(.*)$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_TABLE_ALIGN = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_ADORN = {2: "-", 3: "~", 4: "^", 5: '"', 6: "'"}


def _inline(text: str) -> str:
    """Markdown inline markup -> reST inline markup."""
    out = []
    pos = 0
    for m in _CODE.finditer(text):
        out.append(_plain(text[pos:m.start()]))
        code = m.group(2).strip()
        before = text[m.start() - 1] if m.start() > 0 else " "
        after = text[m.end()] if m.end() < len(text) else " "
        lit = "``" + code + "``"
        if before.isalnum() or before in "_":
            lit = "\\ " + lit
        if after.isalnum() or after in "_":
            lit = lit + "\\ "
        out.append(lit)
        pos = m.end()
    out.append(_plain(text[pos:]))
    return "".join(out)


def _plain(text: str) -> str:
    """Text outside code spans: links, and escapes for reST-only syntax."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)    # foo_ would be a reference
    text = text.replace("|", "\\|")
    return _LINK.sub(lambda m: f"`{m.group(1)} <{m.group(2)}>`__", text)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def markdown_to_rst(lines: list[str], skip_title: bool) -> list[tuple[str, int]]:
    """Convert; returns (reST line, Markdown line number) pairs."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(lines)
    title_skipped = not skip_title

    def emit(text: str, lineno: int):
        out.append((text, lineno))

    while i < n:
        line = lines[i].rstrip("\n")
        stripped = line.strip()
        if not stripped:
            emit("", i)
            i += 1
            continue
        m = _FENCE.match(stripped)
        if m:
            fence, lang = m.group(1), m.group(2) or "text"
            emit(f".. code-block:: {lang}", i)
            emit("", i)
            i += 1
            while i < n and not lines[i].strip().startswith(fence):
                emit("   " + lines[i].rstrip("\n"), i)
                i += 1
            i += 1
            emit("", i)
            continue
        m = _HEADING.match(line)
        if m:
            level, title = len(m.group(1)), _inline(m.group(2))
            if level == 1 and not title_skipped:
                title_skipped = True
                i += 1
                continue
            adorn = _ADORN.get(max(level, 2), "^")
            emit("", i)
            emit(title, i)
            emit(adorn * max(len(title), 3), i)
            emit("", i)
            i += 1
            continue
        m = _IMAGE.match(stripped)
        if m:
            emit(f".. image:: {m.group(2)}", i)
            emit(f"   :alt: {m.group(1)}", i)
            emit("", i)
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < n and _TABLE_ALIGN.match(lines[i + 1].strip()):
            header = _cells(stripped)
            rows = []
            j = i + 2
            while j < n and lines[j].strip().startswith("|"):
                rows.append((_cells(lines[j]), j))
                j += 1
            emit(".. list-table::", i)
            emit("   :header-rows: 1", i)
            emit("   :class: md-table", i)
            emit("", i)
            for cells, lineno in [(header, i)] + rows:
                cells = (cells + [""] * len(header))[:len(header)]
                for k, cell in enumerate(cells):
                    text = _inline(cell) if cell else "\\ "
                    emit(("   * - " if k == 0 else "     - ") + text, lineno)
            emit("", j)
            i = j
            continue
        m = _BULLET.match(line)
        if m:
            emit("* " + _inline(m.group(2)), i)
            i += 1
            while i < n and lines[i].startswith(("  ", "\t")) and lines[i].strip():
                emit("  " + _inline(lines[i].strip()), i)
                i += 1
            emit("", i)
            continue
        # a paragraph: up to a blank line or another block
        para = [(line, i)]          # this line starts it, whatever it looks like
        i += 1
        while i < n:
            raw = lines[i].rstrip("\n")
            s = raw.strip()
            if not s or _HEADING.match(raw) or _FENCE.match(s) or _BULLET.match(raw) \
                    or _IMAGE.match(s) or s.startswith("|"):
                break
            para.append((raw, i))
            i += 1
        if any(raw.endswith("  ") for raw, _ in para[:-1]):
            for raw, lineno in para:
                emit("| " + _inline(raw.strip()), lineno)
        else:
            for raw, lineno in para:
                emit(_inline(raw.strip()), lineno)
        emit("", i)
    return out


class MarkdownInclude(SphinxDirective):
    required_arguments = 1
    option_spec = {"skip-title": directives.flag}
    has_content = False

    def run(self):
        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        converted = markdown_to_rst(lines, "skip-title" in self.options)
        source = os.path.relpath(path, self.env.srcdir)
        content = StringList()
        for text, lineno in converted:
            content.append(text, source, lineno)
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(content, 0, node, match_titles=True)
        return node.children


def setup(app):
    app.add_directive("markdown-include", MarkdownInclude)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
