"""The detect stage: line and word diff, heading paths, stats and the renderers."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.detect import (
    MAX_BLOCK_TOKENS,
    change_to_json,
    diff,
    render_html,
    render_text,
    summary,
)
from watcher.models import (
    Change,
    ChangeStats,
    Hunk,
    WordOp,
    expand_pages,
    page_label,
    page_starts,
)

POLICY = [
    "# Responsible Scaling Policy",
    "Intro paragraph about the policy.",
    "## 1. Scope",
    "This policy covers frontier models.",
    "## 2. Security Commitments",
    "### 2.1 Weights",
    "We commit to protect model weights against theft by state actors.",
    "- Two-party control for weight access",
    "- Egress bandwidth limits",
    "### 2.2 Insiders",
    "Insider risk is reviewed every quarter.",
    "## 3. Governance",
    "The board reviews the policy every year.",
]


def text(lines: list[str]) -> str:
    return "\n".join(lines)


def edited(lines: list[str], **changes: str | None) -> str:
    """POLICY with line `at<index>` replaced (None deletes it)."""
    out = list(lines)
    for key, value in sorted(changes.items(), key=lambda kv: -int(kv[0][2:])):
        index = int(key[2:])
        if value is None:
            del out[index]
        else:
            out[index] = value
    return text(out)


def only_hunk(change: Change | None) -> Hunk:
    assert change is not None
    assert len(change.hunks) == 1, change.hunks
    return change.hunks[0]


# --------------------------------------------------------------------------- diff


@pytest.mark.parametrize(
    "old",
    ["", "one line", text(POLICY), "trailing newline\n", "ünïcødé › ‘quotes’\tand tabs"],
)
def test_equal_texts_are_no_change(old: str) -> None:
    assert diff(old, str(old)) is None
    assert diff(old, "".join(list(old))) is None  # equal, not identical


def test_one_word_changed_inside_a_paragraph() -> None:
    old = text(POLICY)
    new = edited(POLICY, at6="We expect to protect model weights against theft by state actors.")
    change = diff(old, new)
    hunk = only_hunk(change)
    assert change is not None
    assert hunk == Hunk(
        heading_path=("Responsible Scaling Policy", "2. Security Commitments", "2.1 Weights"),
        old_start=6,
        new_start=6,
        old_lines=(POLICY[6],),
        new_lines=("We expect to protect model weights against theft by state actors.",),
        words=(
            WordOp("equal", "We "),
            WordOp("delete", "commit "),
            WordOp("insert", "expect "),
            WordOp("equal", "to protect model weights against theft by state actors."),
        ),
    )
    words = len(old.split())
    assert change.stats == ChangeStats(
        words_added=1, words_removed=1, old_words=words, new_words=words
    )
    assert change.headings == (
        "Responsible Scaling Policy › 2. Security Commitments › 2.1 Weights",
    )


def test_punctuation_is_its_own_token() -> None:
    # xAI's silent re-upload removed "AISI," from a list: the comma goes with it,
    # the neighbouring words stay equal.
    hunk = only_hunk(diff("Shared with CAISI, AISI, and others.", "Shared with CAISI, and others."))
    assert hunk.words == (
        WordOp("equal", "Shared with CAISI, "),
        WordOp("delete", "AISI, "),
        WordOp("equal", "and others."),
    )


@pytest.mark.parametrize(
    ("new", "old_start", "new_start", "old_lines", "new_lines", "path"),
    [
        pytest.param(
            [*POLICY[:9], "- Red-team review of access controls", *POLICY[9:]],
            9,
            9,
            (),
            ("- Red-team review of access controls",),
            ("Responsible Scaling Policy", "2. Security Commitments", "2.1 Weights"),
            id="line added",
        ),
        pytest.param(
            POLICY[:8] + POLICY[9:],
            8,
            8,
            ("- Egress bandwidth limits",),
            (),
            ("Responsible Scaling Policy", "2. Security Commitments", "2.1 Weights"),
            id="line removed",
        ),
        pytest.param(
            [*POLICY, "## 4. Review", "Reviewed by an outside party."],
            13,
            13,
            (),
            ("## 4. Review", "Reviewed by an outside party."),
            ("Responsible Scaling Policy", "4. Review"),
            id="section added at the end: the path includes its own heading",
        ),
        pytest.param(
            ["New first line.", *POLICY],
            0,
            0,
            (),
            ("New first line.",),
            (),
            id="line before the first heading has no path",
        ),
    ],
)
def test_added_and_removed_lines(
    new: list[str],
    old_start: int,
    new_start: int,
    old_lines: tuple[str, ...],
    new_lines: tuple[str, ...],
    path: tuple[str, ...],
) -> None:
    change = diff(text(POLICY), text(new))
    hunk = only_hunk(change)
    assert (hunk.old_start, hunk.new_start) == (old_start, new_start)
    assert (hunk.old_lines, hunk.new_lines) == (old_lines, new_lines)
    assert hunk.heading_path == path
    assert hunk.words == ()
    assert change is not None
    added = sum(len(line.split()) for line in new_lines)
    removed = sum(len(line.split()) for line in old_lines)
    assert (change.stats.words_added, change.stats.words_removed) == (added, removed)


@pytest.mark.parametrize(
    ("index", "path"),
    [
        (1, ("Responsible Scaling Policy",)),
        (3, ("Responsible Scaling Policy", "1. Scope")),
        (7, ("Responsible Scaling Policy", "2. Security Commitments", "2.1 Weights")),
        (10, ("Responsible Scaling Policy", "2. Security Commitments", "2.2 Insiders")),
        (12, ("Responsible Scaling Policy", "3. Governance")),
    ],
)
def test_change_under_nested_headings_gets_its_path(index: int, path: tuple[str, ...]) -> None:
    new = edited(POLICY, **{f"at{index}": POLICY[index] + " Amended."})
    assert only_hunk(diff(text(POLICY), new)).heading_path == path


def test_deletion_takes_its_path_from_the_old_text() -> None:
    # In the new text, line 3 is "## 2. Security Commitments": a path taken
    # there would name the wrong section.
    hunk = only_hunk(diff(text(POLICY), edited(POLICY, at3=None)))
    assert hunk.old_lines == ("This policy covers frontier models.",)
    assert hunk.heading_path == ("Responsible Scaling Policy", "1. Scope")
    assert (hunk.old_start, hunk.new_start) == (3, 3)


def test_deleted_section_is_named_by_its_own_heading() -> None:
    hunk = only_hunk(diff(text(POLICY), text(POLICY[:9] + POLICY[11:])))
    assert hunk.old_lines == ("### 2.2 Insiders", "Insider risk is reviewed every quarter.")
    assert hunk.heading_path == (
        "Responsible Scaling Policy",
        "2. Security Commitments",
        "2.2 Insiders",
    )


def test_heading_renamed() -> None:
    new = edited(POLICY, at4="## 2. Security Measures")
    change = diff(text(POLICY), new)
    hunk = only_hunk(change)
    assert hunk.heading_path == ("Responsible Scaling Policy", "2. Security Measures")
    assert hunk.words == (
        WordOp("equal", "## 2. Security "),
        WordOp("delete", "Commitments"),
        WordOp("insert", "Measures"),
    )
    assert change is not None
    assert render_text(change) == (
        "@@ Responsible Scaling Policy › 2. Security Measures (line 5)\n"
        "~ ## 2. Security [-Commitments-]{+Measures+}"
    )


@pytest.mark.parametrize(
    ("lines", "path"),
    [
        (["# A", "### C", "x"], ("A", "C")),  # a skipped level
        (["# A", "## B", "# D", "x"], ("D",)),  # a new top level clears the stack
        (["## B ##", "x"], ("B",)),  # closing hashes are not part of the title
        (["# C#", "x"], ("C#",)),
        (["# A", "#hashtag", "x"], ("A",)),  # no space: not a heading
        (["# A", "####### seven", "x"], ("A",)),  # seven hashes: not a heading
        (["# A", "# ", "x"], ("A",)),  # an empty heading is not one
    ],
)
def test_heading_syntax(lines: list[str], path: tuple[str, ...]) -> None:
    hunk = only_hunk(diff(text(lines), text([*lines[:-1], "y"])))
    assert hunk.heading_path == path


def test_rewritten_paragraph_has_no_word_marks() -> None:
    new = edited(POLICY, at12="Oversight now rests with a committee of independent experts.")
    change = diff(text(POLICY), new)
    hunk = only_hunk(change)
    assert hunk.words == ()
    assert change is not None
    assert (change.stats.words_added, change.stats.words_removed) == (9, 7)
    assert render_text(change).splitlines()[1:] == [
        "- The board reviews the policy every year.",
        "+ Oversight now rests with a committee of independent experts.",
    ]


def test_lines_merged_into_one_get_word_marks_across_lines() -> None:
    old = "# T\nFirst part of the paragraph.\nSecond part."
    new = "# T\nFirst part of the paragraph. Second part, merged."
    change = diff(old, new)
    hunk = only_hunk(change)
    # Sentences are compared whatever their wrapping: the line break that went
    # is spacing, the words added are the change.
    assert hunk.words == (
        WordOp("equal", "First part of the paragraph. Second part"),
        WordOp("insert", ", merged"),
        WordOp("equal", "."),
    )
    assert change is not None
    # one word added ("merged"); its comma is no word of its own
    assert (change.stats.words_added, change.stats.words_removed) == (1, 0)


@pytest.mark.parametrize(
    ("old", "new", "added", "removed", "share"),
    [
        ("a b c d", "a b c d e f", 2, 0, 2 / 6),
        ("a b c d e f g h i j", "a b x d e f g h i j", 1, 1, 1 / 10),
        ("one two\nthree four five six", "three four five six", 0, 2, 2 / 6),
        ("", "brand new text", 3, 0, 1.0),
        ("all gone now", "", 0, 3, 1.0),
    ],
)
def test_stats(old: str, new: str, added: int, removed: int, share: float) -> None:
    change = diff(old, new)
    assert change is not None
    stats = change.stats
    assert (stats.words_added, stats.words_removed) == (added, removed)
    assert (stats.old_words, stats.new_words) == (len(old.split()), len(new.split()))
    assert stats.share_changed == pytest.approx(share)


# --------------------------------------------------------------------------- guards


def test_unrelated_huge_single_lines_finish_without_word_marks() -> None:
    vocabulary = [f"w{n}" for n in range(40)]
    old = " ".join(vocabulary[(i * 7) % 40] for i in range(20_000))
    new = " ".join(vocabulary[(i * 11 + 3) % 40] for i in range(20_000))
    hunk = only_hunk(diff(old, new))
    assert (hunk.old_lines, hunk.new_lines) == ((old,), (new,))
    assert hunk.words == ()


def test_huge_line_with_one_edit_still_gets_word_marks() -> None:
    # A PDF whose paragraphs were not detected is one enormous line: the
    # common start and end are cut off before matching, so this stays cheap.
    words = [f"word{n % 997}" for n in range(30_000)]
    old = " ".join(words)
    new = " ".join([*words[:15_000], "inserted", *words[15_000:]])
    hunk = only_hunk(diff(old, new))
    assert [op.op for op in hunk.words] == ["equal", "insert", "equal"]
    assert hunk.words[1] == WordOp("insert", "inserted ")


def test_block_over_the_cap_with_unequal_line_counts_keeps_exact_lines() -> None:
    vocabulary = [f"v{n}" for n in range(50)]
    old_lines = [
        " ".join(vocabulary[(i * 3 + k) % 50] for i in range(MAX_BLOCK_TOKENS)) for k in range(2)
    ]
    new_lines = [
        " ".join(vocabulary[(i * 7 + k) % 50] for i in range(MAX_BLOCK_TOKENS)) for k in range(3)
    ]
    hunk = only_hunk(diff(text(["# H", *old_lines]), text(["# H", *new_lines])))
    assert (hunk.old_lines, hunk.new_lines) == (tuple(old_lines), tuple(new_lines))
    assert hunk.words == ()


def test_many_identical_lines_with_one_change() -> None:
    old = text(["- Yes"] * 20_000)
    new = text(["- Yes"] * 10_000 + ["- No"] + ["- Yes"] * 9_999)
    hunk = only_hunk(diff(old, new))
    assert (hunk.old_start, hunk.old_lines, hunk.new_lines) == (10_000, ("- Yes",), ("- No",))


# --------------------------------------------------------------------------- properties

LINES = st.lists(
    st.lists(
        st.sampled_from(["we", "commit", "expect", "to", "AISI,", "#", "-", "10%."]), max_size=5
    ).map(" ".join),
    max_size=12,
)


def apply(old: str, change: Change) -> str:
    lines = old.split("\n") if old else []
    for hunk in reversed(change.hunks):
        end = hunk.old_start + len(hunk.old_lines)
        assert tuple(lines[hunk.old_start : end]) == hunk.old_lines
        lines[hunk.old_start : end] = hunk.new_lines
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(LINES, LINES)
def test_hunks_turn_old_into_new(old_lines: list[str], new_lines: list[str]) -> None:
    old, new = text(old_lines), text(new_lines)
    assert diff(old, old) is None
    change = diff(old, new)
    if old == new:
        assert change is None
        return
    assert change is not None
    assert change.hunks
    assert apply(old, change) == new
    position = 0
    for hunk in change.hunks:
        assert hunk.old_start >= position  # in order, not overlapping
        position = hunk.old_start + len(hunk.old_lines)
        if hunk.words:
            # Equal and inserted words spell the new lines.
            spelled = "".join(op.text for op in hunk.words if op.op != "delete")
            assert spelled == "\n".join(hunk.new_lines)
    assert 0 <= change.stats.share_changed <= 1


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_renderers_never_emit_control_characters(old: str, new: str) -> None:
    change = diff(old, new)
    if change is None:
        return
    assert not CONTROL.search(render_text(change))
    colored = render_text(change, color=True)
    assert not CONTROL.search(re.sub(r"\x1b\[[0-9;]*m", "", colored))
    page = render_html(change, title=old, old_label=new, new_label="x")
    assert not CONTROL.search(page)
    json.dumps(change_to_json(change))


# --------------------------------------------------------------------------- renderers


def hostile_change() -> Change:
    """Markup in a heading, in a rewritten line, in a word-marked line and in a deleted line."""
    head = ["# Policy <b>bold</b>", "Intro."]
    old = [
        *head,
        "<script>alert(1)</script>",
        "middle",
        "We commit to <script>alert(3)</script>.",
        "end",
    ]
    new = [
        *head,
        '<img src=x onerror="alert(2)">',
        "middle",
        "We expect to <script>alert(3)</script>.",
        "end",
    ]
    change = diff(text([*old, "<img src=y onerror=alert(5)>"]), text(new))
    assert change is not None
    assert [bool(hunk.words) for hunk in change.hunks] == [False, True, False]
    return change


def test_render_text_layout() -> None:
    new = text(["New first line.", *POLICY[:3], *POLICY[4:]]).replace("commit", "expect")
    change = diff(text(POLICY), new)
    assert change is not None
    assert render_text(change) == "\n".join(
        [
            "@@ (line 1)",
            "+ New first line.",
            "@@ Responsible Scaling Policy › 1. Scope (line 4)",
            "- This policy covers frontier models.",
            "@@ Responsible Scaling Policy › 2. Security Commitments › 2.1 Weights (line 7)",
            "~ We [-commit-] {+expect+} to protect model weights against theft by state actors.",
        ]
    )


@pytest.mark.parametrize(
    "hostile",
    ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "carriage\rreturn", "bidi\u202eevil", "nul\x00byte"],
)
@pytest.mark.parametrize("color", [False, True])
def test_render_text_escapes_control_sequences(hostile: str, color: bool) -> None:
    old = text([f"# Head {hostile}", "Keep this sentence as it is.", "Gone."])
    new = text([f"# Head {hostile}", f"Keep this {hostile} sentence as it is.", f"Added {hostile}"])
    change = diff(old, new)
    assert change is not None
    out = render_text(change, color=color)
    if color:
        assert "\x1b[31m" in out and "\x1b[32m" in out
        out = re.sub(r"\x1b\[(?:0|1|31|32)m", "", out)
    assert hostile not in out
    assert not CONTROL.search(out)
    assert "\\x" in out or "\\u" in out  # shown, not silently dropped


def test_render_text_color_keeps_markers() -> None:
    change = diff("We commit to it.\nGone line.", "We expect to it.")
    assert change is not None
    out = re.sub(r"\x1b\[[0-9;]*m", "", render_text(change, color=True))
    assert out == render_text(change)


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def test_render_html_escapes_everything() -> None:
    change = hostile_change()
    page = render_html(
        change,
        title="<script>alert('title')</script>",
        old_label='v1 "<img src=x onerror=alert(4)>"',
        new_label="v2 <b>",
    )
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<b>" not in lowered
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;</del>" in page
    assert ">&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</ins>" in page
    assert " to &lt;script&gt;alert(3)&lt;/script&gt;.</p>" in page
    assert ">&lt;img src=y onerror=alert(5)&gt;</del>" in page
    assert "Policy &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in page
    collector = TagCollector()
    collector.feed(page)
    assert set(collector.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "section", "span", "del", "ins"
    }  # fmt: skip
    assert "del" in collector.tags and "ins" in collector.tags
    assert not [
        name for name in collector.attrs if name.startswith("on") or name in {"src", "href"}
    ]


def test_render_html_page_is_self_contained() -> None:
    change = diff(
        text(POLICY), edited(POLICY, at6=POLICY[6].replace("commit", "expect"), at12=None)
    )
    assert change is not None
    page = render_html(
        change, title="Anthropic RSP", old_label="v1 (2023-09)", new_label="v2 (2024-10)"
    )
    assert page.startswith("<!DOCTYPE html>")
    assert (
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">" in page
    )
    assert "<del" in page and "<ins" in page
    assert "line-through" in page and "underline" in page  # not colour alone
    assert "<ins style=" in page and "<del style=" in page  # styled inline for email
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "Responsible Scaling Policy › 2. Security Commitments › 2.1 Weights" in page
    assert (
        '<del style="background:#ffe0e0;color:#82071e;text-decoration:line-through">commit</del>'
        in page
    )
    assert ">The board reviews the policy every year.</del>" in page


def test_change_to_json_round_trips() -> None:
    change = hostile_change()
    data = json.loads(json.dumps(change_to_json(change), ensure_ascii=False))
    stats = data["stats"]
    assert stats == {
        "words_added": change.stats.words_added,
        "words_removed": change.stats.words_removed,
        "old_words": change.stats.old_words,
        "new_words": change.stats.new_words,
        "share_changed": change.stats.share_changed,
    }
    assert data["headings"] == list(change.headings)
    rebuilt = tuple(
        Hunk(
            heading_path=tuple(hunk["heading_path"]),
            old_start=hunk["old_start"],
            new_start=hunk["new_start"],
            old_lines=tuple(hunk["old_lines"]),
            new_lines=tuple(hunk["new_lines"]),
            words=tuple(WordOp(op["op"], op["text"]) for op in hunk["words"]),
        )
        for hunk in data["hunks"]
    )
    assert rebuilt == change.hunks


def hunk_under(*path: str) -> Hunk:
    return Hunk(path, 0, 0, ("x",), ("y",))


@pytest.mark.parametrize(
    ("hunks", "stats", "expected"),
    [
        (
            [hunk_under("2. Security Commitments"), hunk_under("4. Governance")],
            ChangeStats(120, 45, 3800, 3875),
            "+120/−45 words (3.1% of the text) in 2. Security Commitments; 4. Governance",
        ),
        (
            [
                hunk_under("P", "2. Security"),
                hunk_under("P", "4. Gov"),
                hunk_under("P", "5"),
                hunk_under("P", "6"),
            ],
            ChangeStats(120, 45, 3800, 3875),
            "+120/−45 words (3.1% of the text) in 2. Security; 4. Gov and 2 more sections",
        ),
        (
            [hunk_under("A"), hunk_under("A"), hunk_under("B"), hunk_under("C")],
            ChangeStats(1, 0, 10, 11),
            "+1/−0 words (9.1% of the text) in A; B and 1 more section",
        ),
        (
            [hunk_under("1", "Overview"), hunk_under("2", "Overview")],
            ChangeStats(2, 2, 100_000, 100_000),
            "+2/−2 words (<0.1% of the text) in 1 › Overview; 2 › Overview",
        ),
        ([hunk_under()], ChangeStats(0, 3, 3, 0), "+0/−3 words (100.0% of the text)"),
        (
            [hunk_under("Evil \x1b[2J")],
            ChangeStats(1, 1, 10, 10),
            "+1/−1 words (10.0% of the text) in Evil \\x1b[2J",
        ),
    ],
)
def test_summary(hunks: list[Hunk], stats: ChangeStats, expected: str) -> None:
    assert summary(Change(tuple(hunks), stats)) == expected


# --------------------------------------------------------------------------- sentence alignment


UNCHANGED = (
    "Unrelated text stays: the framework applies to every frontier model we develop, "
    "and each team that trains, evaluates or deploys such a model follows the procedures "
    "in this document, which set out how capability evaluations are run, how their results "
    "are reviewed by the responsible scaling officer, how safeguards are chosen for each "
    "capability level, and how decisions to pause or proceed are recorded and reported to "
    "the board and, where the law requires it, to the relevant public authorities."
)

MIXED_OLD = [
    "# Policy",
    "## 4. Oversight",
    "The board reviews this policy annually.",
    "Access to model weights is limited to approved staff.",
    "Red-team results are shared with the safety council.",
    "## 5. Other",
    UNCHANGED,
]


def mixed_new() -> list[str]:
    return [
        "# Policy",
        "## 4. Oversight",
        "The board reviews this policy periodically.",
        "Access to model weights is limited to approved security staff.",
        "Red-team results are shared with the safety council and the board.",
        "Staff complete security training annually. Training covers phishing, insider "
        "threats, the handling of model weights and the reporting of incidents, and each "
        "session ends with an assessment that staff must pass before they keep their "
        "access to production systems and research clusters.",
        "## 5. Other",
        UNCHANGED,
    ]


def test_edited_lines_and_an_added_paragraph_are_each_marked() -> None:
    # Before: one block, too dissimilar as a whole, shown as whole lines (84% changed).
    change = diff(text(MIXED_OLD), text(mixed_new()))
    assert change is not None
    marked = [hunk for hunk in change.hunks if hunk.words]
    assert [[op.text.strip() for op in hunk.words if op.op != "equal"] for hunk in marked] == [
        ["annually", "periodically"],
        ["security"],
        ["and the board"],
    ]
    added = [hunk for hunk in change.hunks if not hunk.words]
    assert len(added) == 1 and added[0].old_lines == () and added[0].new_start == 5
    assert all(hunk.heading_path == ("Policy", "4. Oversight") for hunk in change.hunks)
    # the changed share counts the words that changed, not the lines around them
    new_paragraph = len(mixed_new()[5].split())
    assert change.stats.words_added == 1 + 1 + 3 + new_paragraph
    assert change.stats.words_removed == 1
    assert change.stats.share_changed < 0.5


def test_clause_appended_is_an_insertion_inside_the_sentence() -> None:
    old = "# T\nWe will pause deployment. Other text follows here."
    new = (
        "# T\nWe will pause deployment, unless the deployment committee grants a written "
        "exception after consulting the board and external experts. Other text follows here."
    )
    hunk = only_hunk(diff(old, new))
    assert [op.op for op in hunk.words] == ["equal", "insert", "equal"]
    assert hunk.words[1].text.startswith(", unless the deployment committee")


def test_sentence_edited_beside_a_sentence_added_pairs_with_its_old_self() -> None:
    old = "# T\nWe test models. We must report incidents within 24 hours. We publish."
    new = (
        "# T\nWe test models. A new oversight board is created this year. "
        "We must report incidents within 72 hours. We publish."
    )
    hunk = only_hunk(diff(old, new))
    changes = [(op.op, op.text.strip()) for op in hunk.words if op.op != "equal"]
    assert ("delete", "24") in changes and ("insert", "72") in changes
    assert ("insert", "A new oversight board is created this year.") in changes


def test_reflowed_paragraph_marks_only_the_edited_word() -> None:
    sentence = (
        "We will evaluate every frontier model for dangerous capabilities before any "
        "external deployment and we will publish the results"
    )
    words = sentence.split(" ")
    old = "# T\n" + " ".join(words[:8]) + "\n" + " ".join(words[8:]) + "."
    edited_words = [*words]
    edited_words[3] = "each"
    new = "# T\n" + " ".join(edited_words[:12]) + "\n" + " ".join(edited_words[12:]) + "."
    change = diff(old, new)
    assert change is not None
    marks = [
        (op.op, op.text.strip())
        for h in change.hunks
        for op in h.words
        if op.op != "equal" and op.text.strip()
    ]
    assert marks == [("delete", "every"), ("insert", "each")]
    assert (change.stats.words_added, change.stats.words_removed) == (1, 1)


# --- pages -------------------------------------------------------------------

PAGED_OLD = "# Policy\nIntro.\n## Thresholds\nWe will pause at 10^26 FLOP.\nReview yearly.\nEnd."
OLD_PAGES = (1, 1, 2, 2, 3, 4)


def test_hunks_carry_the_pages_of_their_side() -> None:
    new = PAGED_OLD.replace("## Thresholds\n", "## Thresholds\nAn added line.\nAnother one.\n")
    new_pages = (1, 1, 1, 2, 3, 3, 3, 4)  # re-paginated as well
    change = diff(PAGED_OLD, new, OLD_PAGES, new_pages)
    assert change is not None
    [hunk] = change.hunks
    assert hunk.new_lines and hunk.pages == (2, 3)  # the new side's lines start on pp. 2-3
    assert change_to_json(change)["hunks"][0]["pages"] == [2, 3]  # type: ignore[index]
    assert "(line 4, pp. 2–3)" in render_text(change)
    deleted = diff(PAGED_OLD, PAGED_OLD.replace("Review yearly.\n", ""), OLD_PAGES, new_pages)
    assert deleted is not None and deleted.hunks[0].pages == (3,)  # the old side's page
    # without page maps (HTML), no pages, and null in JSON
    plain = diff(PAGED_OLD, new)
    assert plain is not None and plain.hunks[0].pages == ()
    assert change_to_json(plain)["hunks"][0]["pages"] is None  # type: ignore[index]
    assert "p." not in render_text(plain)
    # one side paged only (a PDF that replaced an HTML page): the pages of that side
    assert diff(PAGED_OLD, new, None, new_pages).hunks[0].pages == (2, 3)  # type: ignore[union-attr]
    assert diff(PAGED_OLD, new, OLD_PAGES, None).hunks[0].pages == ()  # type: ignore[union-attr]


def test_page_maps_run_length_round_trip() -> None:
    pages = (1, 1, 1, 2, 2, 5, 5, 6)
    starts = page_starts(pages)
    assert starts == ((0, 1), (3, 2), (5, 5), (7, 6))
    assert expand_pages(starts, len(pages)) == pages
    assert expand_pages(starts, 10) == (*pages, 6, 6)  # padded with the last page
    assert expand_pages(starts, 4) == pages[:4]
    assert expand_pages((), 2) == (1, 1)
    assert [page_label(p) for p in ((), (7,), (7, 8), (7, 7))] == ["", "p. 7", "pp. 7–8", "p. 7"]


@pytest.mark.parametrize("sep", [" ", "\n"], ids=["inside-one-line", "own-lines"])
def test_a_replaced_run_of_words_counts_the_same_whatever_the_line_breaks(sep: str) -> None:
    """12 words replaced by 16: +16/−12, not the whole line's +28/−24."""
    before, after = "The developer will pause", "before any further training run of the model."
    old_run = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    new_run = " ".join(f"w{i}" for i in range(16))
    frame = "# Title\nFirst paragraph stays.\n{}\nLast paragraph.\n"
    change = diff(
        frame.format(sep.join([before, old_run, after])),
        frame.format(sep.join([before, new_run, after])),
    )
    assert change is not None
    assert (change.stats.words_added, change.stats.words_removed) == (16, 12)
