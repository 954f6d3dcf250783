"""Citations in the store: a rater's actions on them, and their re-anchoring.

A rater cites a passage of a source's latest version for a criterion of the
source's lab (`add`), removes a citation (`remove`, kept in history), moves
it to the passage re-anchoring found (`move`, kept in history), and loads or
saves a team's citations as CSV. On every new version of a source (or of a
file superseding it), `reanchor` re-anchors the citations of its lineage and
says which criteria the change touches. The matching itself is
`watcher.citations`, pure.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watcher import citations, clock
from watcher.citations import Anchor, Placement
from watcher.config import SEVERITIES
from watcher.errors import CitationError, NotFound
from watcher.store import Row, Store

log = logging.getLogger(__name__)

CSV_COLUMNS = ("lab", "source", "criterion", "quote", "note")
#: a change that touches a cited passage is at least this severe
TOUCHED_SEVERITY = "substantive"


def _quote_key(quote: str) -> str:
    return " ".join(citations.keys(quote))


def citation_dict(row: Row) -> dict[str, Any]:
    """A citation for people and tools."""
    anchor = json.loads(row["anchor"])
    placement = json.loads(row["placement"]) if row["placement"] else None
    new_quote = placement.get("quote") if placement and row["status"] != "intact" else None
    return {
        "id": row["id"],
        "lab": row["lab"],
        "criterion": row["criterion"],
        "source": row["source_id"],
        "version": row["version"],
        "quote": row["quote"],
        "note": row["note"],
        "heading_path": anchor.get("heading_path", []),
        "page": anchor.get("page"),
        "status": row["status"],
        "new_quote": new_quote,
        "new_source": row["checked_source"],
        "new_version": row["checked_version"],
        "new_heading_path": placement.get("heading_path") if placement else None,
        "marks": placement.get("marks", []) if placement else [],
        "signals": placement.get("signals", []) if placement else [],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def add(
    store: Store,
    source_id: str,
    *,
    criterion: str,
    quote: str,
    note: str | None = None,
    section: str | None = None,
    lab: str | None = None,
    actor: str = "cli",
) -> Row:
    """Cite `quote` of `source_id`'s latest version for `criterion`; returns the citation.

    Refused (a `CitationError`): an empty criterion, a quote not in that
    version (the closest passage is named), found twice (pass `section`),
    already cited for the same criterion; a lab other than the source's.
    """
    source = store.require_source(source_id)
    criterion = " ".join(criterion.split())
    if not criterion:
        raise CitationError("a citation needs a criterion (--criterion)")
    if lab is not None and lab.strip().casefold() != (source["lab"] or "").casefold():
        raise CitationError(f"source {source_id!r} is a document of {source['lab']!r}, not {lab!r}")
    version = store.latest_version(source_id)
    if version is None:
        raise CitationError(f"{source_id!r} has no version yet (run `watcher check`)")
    try:
        text = store.version_text(version)
        pages = store.version_pages(version, text)
        anchor = citations.anchor(text, quote, section=section, pages=pages)
    except CitationError as exc:
        raise CitationError(f"v{version.number} of {source_id}: {exc}") from None
    key = _quote_key(anchor.quote)
    if (same := store.duplicate_citation(source_id, criterion, key)) is not None:
        raise CitationError(f"already cited for {criterion!r}: citation {same['id']}")
    stamp = clock.iso(clock.now())
    with store.transaction():
        citation_id = store.add_citation(
            lab=source["lab"] or "",
            criterion=criterion,
            source_id=source_id,
            version=version.number,
            quote=anchor.quote,
            quote_key=key,
            anchor=json.dumps(anchor.to_json()),
            note=note,
            status="intact",
            checked_source=source_id,
            checked_version=version.number,
            created_at=stamp,
            updated_at=stamp,
        )
        store.add_citation_event(
            citation_id,
            at=stamp,
            actor=actor,
            action="added",
            source_id=source_id,
            version=version.number,
            quote=anchor.quote,
            note=note,
        )
    return store.citation(citation_id)


def remove(store: Store, citation_id: int, *, actor: str = "cli") -> Row:
    """Remove a citation from the lists; its row and history stay."""
    row = store.citation(citation_id)
    stamp = clock.iso(clock.now())
    with store.transaction():
        store.update_citation(citation_id, removed_at=stamp, updated_at=stamp)
        store.add_citation_event(citation_id, at=stamp, actor=actor, action="removed")
    return row


def move(store: Store, citation_id: int, *, actor: str = "cli") -> Row:
    """Move a citation to the passage its last re-anchoring found (after review).

    The old quote stays in the citation's history. Refused for a citation
    that is `gone` (nothing to move to) or already where it stands.
    """
    row = store.citation(citation_id)
    placement = json.loads(row["placement"]) if row["placement"] else None
    if row["status"] == "gone" or placement is None or placement.get("anchor") is None:
        raise CitationError(
            f"citation {citation_id} is {row['status']}: nothing to move it to"
            + (" (cite the new passage with `watcher cite add`)" if row["status"] == "gone" else "")
        )
    if row["status"] == "intact" and row["checked_version"] == row["version"]:
        raise CitationError(f"citation {citation_id} already stands on that passage")
    anchor = Anchor.from_json(placement["anchor"])
    stamp = clock.iso(clock.now())
    with store.transaction():
        store.add_citation_event(
            citation_id,
            at=stamp,
            actor=actor,
            action="moved",
            source_id=row["source_id"],
            version=row["version"],
            quote=row["quote"],
            note=f"{row['status']}: moved to v{row['checked_version']} of {row['checked_source']}",
        )
        store.update_citation(
            citation_id,
            source_id=row["checked_source"],
            version=row["checked_version"],
            quote=anchor.quote,
            quote_key=_quote_key(anchor.quote),
            anchor=json.dumps(anchor.to_json()),
            status="intact",
            placement=None,
            updated_at=stamp,
        )
    return store.citation(citation_id)


def history(store: Store, citation_id: int) -> list[Row]:
    store.citation(citation_id)
    return store.citation_events(citation_id)


# --- CSV -------------------------------------------------------------------------


def import_csv(store: Store, text: str, *, actor: str = "cli") -> list[int]:
    """Add every row of a CSV (lab, source, criterion, quote, note); all or nothing.

    A row already cited is skipped (a re-import is harmless); any other
    problem refuses the whole file, naming the row.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS[1:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise CitationError(
            f"CSV lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(expected: {', '.join(CSV_COLUMNS)})"
        )
    added: list[int] = []
    with store.transaction():
        for number, record in enumerate(reader, start=2):
            values = {k: (record.get(k) or "").strip() for k in CSV_COLUMNS}
            try:
                store.require_source(values["source"])
                row = add(
                    store,
                    values["source"],
                    criterion=values["criterion"],
                    quote=values["quote"],
                    note=values["note"] or None,
                    lab=values["lab"] or None,
                    actor=actor,
                )
            except CitationError as exc:
                if str(exc).startswith("already cited"):
                    continue
                raise CitationError(f"CSV line {number}: {exc}") from None
            except NotFound as exc:
                raise CitationError(f"CSV line {number}: {exc}") from None
            added.append(row["id"])
    return added


def export_csv(store: Store, *, lab: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in store.citations(lab=lab):
        writer.writerow(
            [row["lab"], row["source_id"], row["criterion"], row["quote"], row["note"] or ""]
        )
    return out.getvalue()


# --- criteria ---------------------------------------------------------------------


def criteria(store: Store, *, lab: str | None = None) -> list[dict[str, Any]]:
    """Each lab's criteria with their citations and statuses."""
    return _group(store.citations(lab=lab))


def _group(rows: Sequence[Row]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["lab"], row["criterion"]), []).append(citation_dict(row))
    return [
        {"lab": lab, "criterion": criterion, "citations": items}
        for (lab, criterion), items in grouped.items()
    ]


# --- re-anchoring -----------------------------------------------------------------


@dataclass(frozen=True)
class Touched:
    """What a new version did to the citations of its lineage."""

    criteria: list[dict[str, Any]]  # every cited criterion of the lineage, with statuses
    line: str  # "Affects 2 graded criteria: …" ("" when nothing is cited)
    severity: str | None  # at least this severe (None: no citation changed or gone)


def reanchor(
    store: Store,
    source_id: str,
    number: int,
    text: str,
    signals: Sequence[dict[str, Any]] = (),
) -> Touched:
    """Re-anchor the citations of `source_id`'s lineage on its version `number` (`text`).

    Runs inside the caller's transaction (the check that records the version).
    """
    rows = store.citations(sources=store.lineage(source_id))
    if not rows:
        return Touched([], "", None)
    doc = citations.document(text)
    stamp = clock.iso(clock.now())
    for row in rows:
        old = Anchor.from_json(json.loads(row["anchor"]))
        placement = citations.reanchor(old, doc)
        inside = citations.signals_inside(row["quote"], placement.quote, signals)
        store.update_citation(
            row["id"],
            status=placement.status,
            placement=json.dumps(_placement_json(placement, [signals[i] for i in inside])),
            checked_source=source_id,
            checked_version=number,
            updated_at=stamp,
        )
    touched = _group(store.citations(sources=[r["source_id"] for r in rows]))
    statuses = {c["status"] for item in touched for c in item["citations"]}
    severity = TOUCHED_SEVERITY if statuses & {"changed", "gone"} else None
    return Touched(touched, citations.affects_line(touched), severity)


def _placement_json(placement: Placement, signals: Sequence[dict[str, Any]]) -> dict[str, Any]:
    data = placement.to_json()
    data["signals"] = [
        {"kind": s.get("kind"), "section": s.get("section"), "detail": s.get("detail")}
        for s in signals
    ]
    return data


def on_new_version(
    store: Store,
    source_id: str,
    number: int,
    text: str,
    task_id: int,
    signals: Sequence[dict[str, Any]] = (),
) -> Touched:
    """The pipeline's hook: re-anchor, then record on the task which criteria
    the change touches, raising its severity when a cited passage changed or went."""
    touched = reanchor(store, source_id, number, text, signals)
    if not touched.line:
        return touched
    task = store.task(task_id)
    affected = [
        item for item in touched.criteria if any(c["status"] != "intact" for c in item["citations"])
    ]
    values: dict[str, Any] = {"criteria": json.dumps({"line": touched.line, "criteria": affected})}
    if touched.severity is not None and _rank(task["severity"]) < _rank(touched.severity):
        values["severity"] = touched.severity
    store.update_task(task_id, **values)
    return touched


def _rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
