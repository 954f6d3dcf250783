"""Evidence: the quotes of a signal, centred on the words that changed, with those words marked."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from watcher.escape import Marks, clip_around

#: Quotes longer than this are cut around their changed words (with '…').
MAX_QUOTE = 300

# Words (with inner hyphens, apostrophes, decimal points) and single marks of
# punctuation: 'annually.' → 'periodically.' marks the word, not the full stop.
_TOKEN = re.compile(r"\w+(?:[-'’.,/]\w+)*|[^\w\s]")


def _spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    matches = list(_TOKEN.finditer(text))
    return [m.group(0).casefold() for m in matches], [m.span() for m in matches]


def _join(spans: list[tuple[int, int]], text: str) -> Marks:
    """Neighbouring marked spans separated by spaces only, joined into one."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and not text[out[-1][1] : start].strip():
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def quotes(
    old: str | None, new: str | None, *, whole: bool = True
) -> tuple[str | None, Marks, str | None, Marks]:
    """The old and new quotes of a signal, trimmed around their changes, and their marks.

    With both sides, the marks are the words that differ between them; with
    one side (a sentence deleted or added), all of it is marked when `whole`.
    """
    if old is None or new is None:
        text = old if old is not None else new
        if text is None:
            return None, (), None, ()
        marked, marks = clip_around(text, ((0, len(text)),) if text and whole else (), MAX_QUOTE)
        return (marked, marks, None, ()) if old is not None else (None, (), marked, marks)
    old_keys, old_spans = _spans(old)
    new_keys, new_spans = _spans(new)
    old_marks: list[tuple[int, int]] = []
    new_marks: list[tuple[int, int]] = []
    old_anchor = new_anchor = -1
    opcodes = SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        if old_anchor < 0:
            old_anchor = old_spans[i1][0] if i1 < len(old_spans) else len(old)
            new_anchor = new_spans[j1][0] if j1 < len(new_spans) else len(new)
        old_marks += [(old_spans[i1][0], old_spans[i2 - 1][1])] if i2 > i1 else []
        new_marks += [(new_spans[j1][0], new_spans[j2 - 1][1])] if j2 > j1 else []
    old_text, old_out = clip_around(old, _join(old_marks, old), MAX_QUOTE, max(old_anchor, 0))
    new_text, new_out = clip_around(new, _join(new_marks, new), MAX_QUOTE, max(new_anchor, 0))
    return old_text, old_out, new_text, new_out
