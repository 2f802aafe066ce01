"""The evidence report as one self-contained HTML file: the same content as the PDF, every
value escaped, no script and no network (a Content-Security-Policy that allows only inline
styles and, when a thumbnail was asked for, one data: image)."""

from __future__ import annotations

import base64
from html import escape

from consentry.actions.evidence.content import AuditBlock, Document, Field, Section, Table

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{color:#1a3a5a;border-bottom:1px solid #ccc;margin-top:1.6em}
.sub,.note{color:#555;font-size:12px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f1f1f1}table.fields th{background:none;width:24%}code{font-size:12px;word-break:break-all}
.audit{margin:.8em 0;padding:.4em .6em;border-left:3px solid #9ab}.audit .details{font-size:12px;color:#555}
img.thumb{width:120px;border-radius:4px}
"""


def _value(f: Field) -> str:
    return f"<code>{escape(f.value)}</code>" if f.mono else escape(f.value)


def _fields(rows: list[Field]) -> str:
    body = "".join(f"<tr><th>{escape(f.label)}</th><td>{_value(f)}</td></tr>" for f in rows)
    return f'<table class="fields">{body}</table>'


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    rows = "".join("<tr>" + "".join(f"<td><code>{escape(v)}</code></td>" if i in t.mono else
                                    f"<td>{escape(v)}</td>" for i, v in enumerate(row)) + "</tr>"
                   for row in t.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _audit(block: AuditBlock) -> str:
    return (f'<div class="audit"><strong>{escape(block.heading)}</strong>'
            f'<div class="details"><code>{escape(block.details)}</code></div>{_fields(block.hashes)}</div>')


def _section(section: Section, thumbnail: bytes | None) -> str:
    parts = [f"<section><h2>{escape(section.title)}</h2>"]
    if section.title == "Thumbnail" and thumbnail is not None:
        parts.append(f'<img class="thumb" alt="greyscale, strongly blurred thumbnail" '
                     f'src="data:image/jpeg;base64,{base64.b64encode(thumbnail).decode()}">')
    if section.fields:
        parts.append(_fields(section.fields))
    parts += [f"<p>{escape(p)}</p>" for p in section.paragraphs]
    parts += [_table(t) for t in section.tables]
    parts += [_audit(b) for b in section.audit]
    if section.note:
        parts.append(f'<p class="note">{escape(section.note)}</p>')
    return "".join(parts) + "</section>"


def render_html(doc: Document) -> str:
    sections = "\n".join(_section(s, doc.thumbnail_jpeg) for s in doc.sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(doc.title)}</title>
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<style>{_CSS}</style></head><body>
<h1>{escape(doc.title)}</h1>
<p class="sub">{escape(doc.subtitle)}</p>
{sections}
</body></html>
"""
