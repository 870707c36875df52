"""Hypothesis strategies shared by the parser tests: a small valid file after a few random edits."""

from __future__ import annotations

from hypothesis import strategies as st

INSERTS = list(',;"\n\r<\x00é')


@st.composite
def mutations(draw: st.DrawFn, original: str) -> str:
    """The original text after one to three edits: a character deleted or inserted, a line doubled, a cut."""
    text = original
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate_line", "truncate"]))
        if kind == "delete" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(INSERTS)) + text[at:]
        elif kind == "duplicate_line" and text:
            lines = text.splitlines(keepends=True)
            at = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: at + 1], *lines[at:]])
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    return text
