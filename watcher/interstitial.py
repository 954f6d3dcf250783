"""Interstitials: a page that stands in front of the document instead of being it.

    interstitial(new_text, previous_text) -> reason or None

Cookie-consent banners, login walls, paywalls and age gates come back with
status 200 and a few hundred words of their own language. Such a text is a
failed check, not a version, when it is short, mostly that language, and
keeps little of the previous version's text (a first version keeps nothing).

The test is general on purpose: it counts how much of the text is gate
language (phrases of the four kinds, and short button lines such as
"Accept all" or "Sign in"), not whether one site's exact words are there,
and asks for at least one short line of it, the action the page wants.
A short policy that mentions cookies in its footer is mostly policy, and a
watched cookie policy that changes keeps most of its previous text: neither
is flagged.

Pure functions of text; runs in the main process on short texts only.
"""

from __future__ import annotations

import re

from watcher.wording import plural

# An interstitial is short; a longer text is read as a document.
MAX_WORDS = 300
# Share of the text's words on lines of gate language that makes it an interstitial.
MIN_GATE_SHARE = 0.5
# Share of the previous version's words the new text must keep to be read as
# that document (an interstitial keeps at most the banner the page also carried).
MIN_KEPT_SHARE = 0.5
# A line this short that is a button label counts as gate language.
BUTTON_WORDS = 5
# Every interstitial asks for an action ("Accept all", "Sign in", "Subscribe
# now", "Yes"): a short line of gate language. A policy that talks about
# passwords or cookies in sentences has none. Buttons may be dropped from the
# text, though: a text as thick with gate phrases as a banner is one too.
ACTION_WORDS = 8
MIN_PHRASES_PER_100_WORDS = 10.0


def _phrases(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns), re.IGNORECASE)


_APOS = "['’]"
# Phrases of each kind, in the words such pages use (not one site's wording).
GATE_PHRASES: dict[str, re.Pattern[str]] = {
    "consent page": _phrases(
        r"cookies?",
        r"consent(s|ing)?",
        r"tracking technolog(y|ies)",
        r"(manage|customi[sz]e|update|change|set) (your |my )?(cookie |privacy |consent )?"
        r"(preferences|settings|choices|options)",
        r"(accept|reject|decline|allow|deny|refuse) (all|cookies|optional|non-essential|selected)",
        r"personali[sz]ed (ads|advertising|content|offers)",
        r"(ad|audience|content) (measurement|engagement)",
        r"your privacy (choices|matters|is important)",
        r"we value your privacy",
        r"do not sell( or share)?",
        r"legitimate interests?",
        r"(our|third[- ]party) (partners|vendors)",
        r"(store|access) (and/or access )?information on (a|your) device",
        r"privacy (settings|preferences|center|centre)",
    ),
    "login page": _phrases(
        r"sign(ed)? ?(in|up|on)",
        r"log(ged)? ?(in|on)",
        r"passwords?",
        r"create (an|your|a free) account",
        r"(don{_APOS}t|do not) have an account",
        r"e-?mail address",
        r"user ?name",
        r"continue with (google|apple|microsoft|github|facebook|email|sso)",
        r"single sign-on|sso",
        r"(two-factor|2fa|verification code|one-time (code|password))",
        r"remember me",
        r"(authentication|authorization) required",
    ),
    "paywall": _phrases(
        r"subscri(be|bed|ber|bers|ption|ptions)",
        r"free trial",
        r"already (a|an) (subscriber|member)",
        r"unlock",
        r"premium",
        r"paywall",
        r"(free )?(articles?|stories|reads) (remaining|left)",
        r"per (month|week|year)",
        r"become a (member|subscriber)",
        r"membership",
        r"(continue|keep) reading",
        r"read the full (article|story|report)",
        r"cancel any ?time",
        r"(subscribers?|members?)[- ]only",
    ),
    "age gate": _phrases(
        r"(verify|confirm) (that )?(your|you are of) (age|legal age)",
        r"age verification",
        r"date of birth|birth ?date|year of birth",
        r"(are you|you must be|i am|you are) (at least |over |older than )?(1[3-9]|2[01])"
        r"( years( of age| old)?| or (older|over))?",
        r"(1[3-9]|2[01])\+",
        r"(of )?legal (drinking |smoking )?age",
        r"(over|under) the age of",
        r"enter your (age|birthday)",
    ),
}
LANGUAGE = {
    "consent page": "consent",
    "login page": "login",
    "paywall": "paywall",
    "age gate": "age-check",
}
# The whole line is a button or a link of the gate.
_BUTTON = re.compile(
    r"^[\W_]*(?:"
    r"(i )?(accept|agree|allow|consent|reject|decline|deny|refuse)( all| cookies| and close)?"
    r"|(i )?(understand|disagree)|ok(ay)?|got it|close|dismiss|continue|proceed|yes|no|enter|exit"
    r"|leave|save( (and|&) exit| (my )?(choices|preferences|settings))?|confirm( (my )?choices)?"
    r"|submit|manage( options| preferences| settings)?|(more )?options|settings|preferences"
    r"|learn more|more info(rmation)?|show (details|purposes|vendors)|cancel|back|next|skip"
    r"|privacy( policy| notice| statement)?|cookie (policy|notice|statement)"
    r"|terms( of (use|service))?|imprint|help"
    r")[\W_]*$",
    re.IGNORECASE,
)


def interstitial(text: str, previous: str | None) -> str | None:
    """A one-line reason when `text` is an interstitial in front of the document, else None.

    `previous` is the text of the source's latest version (None before the first one).
    """
    # Most texts are documents: tell them by their first MAX_WORDS words, not all.
    if len(text.split(maxsplit=MAX_WORDS)) > MAX_WORDS:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    words = sum(len(line.split()) for line in lines)
    if not words or words >= MAX_WORDS:
        return None
    gate_words = 0
    actions = 0
    hits: dict[str, int] = dict.fromkeys(GATE_PHRASES, 0)
    example: dict[str, str] = {}
    for line in lines:
        counted = len(line.split())
        body = line.lstrip("#-*> ").strip()
        matched = False
        for kind, pattern in GATE_PHRASES.items():
            found = pattern.findall(body)
            if found:
                hits[kind] += len(found)
                if kind not in example and (match := pattern.search(body)):
                    example[kind] = match.group(0)
                matched = True
        button = counted <= BUTTON_WORDS and _BUTTON.match(body) is not None
        if matched or button:
            gate_words += counted
            # a heading names the page; it is not what the page asks for
            actions += counted <= ACTION_WORDS and not line.startswith("#")
    kind = max(hits, key=lambda name: hits[name])
    share = gate_words / words
    thick = 100 * sum(hits.values()) / words >= MIN_PHRASES_PER_100_WORDS
    if hits[kind] == 0 or share < MIN_GATE_SHARE or not (actions or thick):
        return None
    kept = kept_share(previous, text) if previous else 0.0
    if kept >= MIN_KEPT_SHARE:
        return None
    kept_note = f"; it keeps {kept:.0%} of the previous version's text" if previous else ""
    return (
        f"{kind} instead of the document ({plural(words, 'word')}, {share:.0%} of them "
        f"{LANGUAGE[kind]} language such as {example[kind]!r}{kept_note})"
    )


def kept_share(previous: str, text: str) -> float:
    """The share of `previous`'s words on lines that `text` still has (0..1)."""
    kept_lines = {_key(line) for line in text.splitlines()}
    total = kept = 0
    for line in previous.splitlines():
        count = len(line.split())
        total += count
        if _key(line) in kept_lines:
            kept += count
    return kept / total if total else 0.0


def _key(line: str) -> str:
    return " ".join(line.lower().split())
