"""Tables the book displays: Markdown for a terminal, HTML for notebooks and the book."""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Table", "claims_table", "make_table"]


@dataclass(frozen=True, repr=False)
class Table:
    """A rendered table: Markdown for text (``str``) and HTML for notebooks and the book.

    Notebooks display it through ``_repr_html_`` / ``_repr_markdown_``; the HTML form is
    what the book shows (its Markdown renderer has no tables). ``notes`` follow the table,
    one paragraph each.
    """
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def markdown(self) -> str:
        def clean(cell: Any) -> str:
            return str(cell).replace("|", "\\|").replace("\n", " ")
        lines = ["| " + " | ".join(map(clean, self.header)) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(map(clean, row)) + " |" for row in self.rows]
        return "\n\n".join(["\n".join(lines), *self.notes])

    def html(self) -> str:
        def cells(tag: str, row: Sequence[str]) -> str:
            return "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row)
        body = "".join(f"<tr>{cells('td', row)}</tr>" for row in self.rows)
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (f"<table class=\"table\"><thead><tr>{cells('th', self.header)}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}")

    __str__ = __repr__ = markdown   # a terminal shows the Markdown text
    _repr_markdown_ = markdown
    _repr_html_ = html


def make_table(header: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> Table:
    """A `Table` from any cell values (shown with ``str``)."""
    return Table(tuple(header), tuple(tuple(str(c) for c in r) for r in rows), tuple(notes))


CLAIMS_HEADER = ("quantity", "paper (source)", "your run", "stored paper-budget records")


def claims_table(rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> Table:
    """A chapter's closing table: each row a quantity, the paper's number with its source,
    the reader's measurement and the stored records' (4 cells per row)."""
    for row in rows:
        if len(row) != len(CLAIMS_HEADER):
            raise ValueError(f"a claims row needs {len(CLAIMS_HEADER)} cells {CLAIMS_HEADER}, "
                             f"got {len(row)}: {list(row)!r}")
    return make_table(CLAIMS_HEADER, rows, notes)
