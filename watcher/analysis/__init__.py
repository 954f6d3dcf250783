"""Old text, new text → what kind of change a rater is looking at.

`analyse` reads a change the way a rater does and returns a severity with
signals, each with its evidence (old → new sentence or value, heading path):

- commitments: firm language (commit, will, must, shall, require, ensure,
  guarantee) traded for hedged language (expect, may, aim to, should, where
  appropriate, ...) or back, in aligned sentences; a deleted firm sentence is
  a weakened commitment, an added one a strengthened commitment;
- quantities with meaning (percentages, multipliers, FLOP counts, durations
  and review cycles, counts, deadlines) removed, added or changed within a
  section; equal values written differently ('five'/'5', '12 months'/'every
  year', '10^26'/'1e26') are not a change;
- watched terms that appear or disappear; edits inside sentences that say what
  the policy covers or what triggers its consequences; sections added,
  removed or renamed (a moved or renumbered section is neither); version
  labels and effective dates; newly linked documents; large rewrites.

Only the changed lines are read (the hunks of `detect.diff`, or an equivalent
line diff when no `Change` is given), plus the heading lines of both texts:
analysing a 50,000-word policy with a few edits takes milliseconds.

How it works: the changed lines of each hunk are cut into sentences (headings
and list items are units of their own; a paragraph wrapped over several lines
is joined first). Sentences that reappear unchanged elsewhere (moved text,
reordered lists, punctuation, case, reflow) cancel out. The rest are aligned
old ↔ new by word overlap; an aligned pair whose only edits are misspellings
is cosmetic. Signals come from the aligned pairs and from the sentences left
over (deleted or added).

The modules, in the order a change passes through them: `regions` (the
changed line ranges), `units` (their sentences and headings), `align` (old
paired with new), then one module per family of signals (`sections`,
`labels`, `commitments`, `scope`, `numbers`, `terms`), whose findings
`severity` ranks into the result; `core` runs them in turn and `text` holds
the word and sentence helpers they share. What other code uses is imported
from here.
"""

from watcher.analysis.commitments import Modality, commitment_change, modality
from watcher.analysis.core import analyse, analyse_with
from watcher.analysis.labels import effective_dates, versions
from watcher.analysis.numbers import Quantity, quantities
from watcher.analysis.severity import KIND_SEVERITY, MAX_SIGNALS, top_changes
from watcher.analysis.text import split_sentences

__all__ = [
    "KIND_SEVERITY",
    "MAX_SIGNALS",
    "Modality",
    "Quantity",
    "analyse",
    "analyse_with",
    "commitment_change",
    "effective_dates",
    "modality",
    "quantities",
    "split_sentences",
    "top_changes",
    "versions",
]
