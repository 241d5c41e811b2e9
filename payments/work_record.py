"""An annotator's work record: its hours, tasks and earnings by project and month, anchored to
the ledger, with a hash anyone can recompute and a check that the ledger confirms it.

The file is `{"record": BODY, "record_hash", "hash_algorithm", "canonical", "seal", ...}`:

* `record_hash` is SHA-256 over the canonical JSON of BODY (`canonical_json`): keys sorted, no
  whitespace, UTF-8, every amount and duration a decimal string, counts integers. Anyone can
  recompute it; it proves the body is the one the hash names.
* `seal` is Fairlabel's HMAC of that hash (django.core.signing, salted): only this deployment can
  make one, so a body rebuilt by hand, with its own hash, is not taken as issued here.
* BODY's `ledger` section anchors the figures: for each chain holding the annotator's entries,
  the position and hash of the last one the record covers. Chains are append-only, so "the
  annotator's entries up to those positions" is a fixed set for ever: verification recomputes
  the figures from it and compares.

An annotator's entries sit on three chains (its shard's: reservations, piece and time pay,
payouts; settlement's: break and instructions pay, top-ups; control's: rejections and appeals),
so the anchor names one position per chain rather than one entry.

Months are UTC calendar months (the ledger and the settlement periods are in UTC). A settlement's
entries and hours count in the month of its period's last instant (a daily period lies within
one month). Read-only: these are selectors, not services.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Profile
from accounts.selectors import pseudonym_of
from labeling.jobs.models import JobStatus
from labeling.models import Project
from payments import ledger
from payments.ledger import CHAIN_SETTLEMENT, HASHED_FIELDS, entry_hash, money
from payments.models import PAY_KINDS, Entry, Kind, Review, Settlement, SettlementJob

FORMAT = "fairlabel.work-record/1"
HASH_ALGORITHM = "sha256"
CANONICAL = (
    "record_hash = SHA-256 (hex) of the UTF-8 bytes of the `record` object serialised as JSON "
    "with keys sorted at every level, no whitespace (separators ',' and ':'), non-ASCII "
    "characters written as themselves (not \\u escapes); amounts, seconds and hours are decimal "
    "strings, counts are integers. In Python: hashlib.sha256(json.dumps(record, sort_keys=True, "
    "separators=(',', ':'), ensure_ascii=False).encode('utf-8')).hexdigest()"
)
SEAL_SALT = "payments.work_record"
MAX_BYTES = 1024 * 1024
SECONDS = Decimal("0.001")
HOURS = Decimal("0.01")
EARNING_KINDS = (*PAY_KINDS, Kind.ADJUSTMENT)
# What counts as a figure the anchored entries alone decide (see `work_record_verify`).
SETTLEMENT_KEYS = (
    "paid_seconds", "paid_hours", "active_seconds", "instructions_seconds", "break_seconds",
)  # fmt: skip


def canonical_json(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def record_hash_of(body: Any) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _seal(digest: str) -> str:
    return signing.Signer(salt=SEAL_SALT).signature(digest)


def _seal_holds(digest: str, seal: Any) -> bool:
    if not isinstance(seal, str) or not seal:
        return False
    try:
        return signing.Signer(salt=SEAL_SALT).unsign(f"{digest}:{seal}") == digest
    except signing.BadSignature:
        return False


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _entry_month(chain: int, created_at: datetime) -> str:
    # Settlement entries are stamped with their period's end, the first instant after it.
    if chain == CHAIN_SETTLEMENT:
        created_at -= timedelta(microseconds=1)
    return _month(created_at)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Cell:
    active: Decimal = Decimal(0)
    instructions: Decimal = Decimal(0)
    breaks: Decimal = Decimal(0)
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    overturned: int = 0
    earnings: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, other: _Cell) -> None:
        self.active += other.active
        self.instructions += other.instructions
        self.breaks += other.breaks
        self.submitted += other.submitted
        self.approved += other.approved
        self.rejected += other.rejected
        self.overturned += other.overturned
        for kind, amount in other.earnings.items():
            self.earnings[kind] += amount

    def figures(self) -> dict[str, Any]:
        paid = self.active + self.instructions + self.breaks
        return {
            "active_seconds": str(self.active.quantize(SECONDS)),
            "instructions_seconds": str(self.instructions.quantize(SECONDS)),
            "break_seconds": str(self.breaks.quantize(SECONDS)),
            "paid_seconds": str(paid.quantize(SECONDS)),
            "paid_hours": str((paid / 3600).quantize(HOURS)),
            "tasks": {
                "submitted": self.submitted,
                "approved": self.approved,
                "rejected": self.rejected,
                "rejection_overturned": self.overturned,
            },
            "earnings": {k: str(money(v)) for k, v in sorted(self.earnings.items()) if v},
            "earned": str(money(sum(self.earnings.values(), Decimal(0)))),
        }


@dataclass(frozen=True)
class _Cut:
    """What a record covers: the annotator's entries up to `positions` (chain -> seq), the
    settlements of periods ending by `settled_through`, the reviews given by `as_of`."""

    positions: dict[int, int]
    settled_through: datetime | None
    as_of: datetime


def _body(*, annotator_id: int, pseudonym: str, cut: _Cut) -> dict[str, Any]:
    """The record's body for one annotator over one cut: what is hashed, and what verification
    rebuilds to compare."""
    cells: dict[tuple[int | None, str], _Cell] = defaultdict(_Cell)
    payouts: dict[str, Decimal] = defaultdict(Decimal)
    covered = Q()
    for chain, seq in cut.positions.items():
        covered |= Q(chain=chain, seq__lte=seq)
    lines: list[str] = []
    anchors: dict[int, dict[str, Any]] = {}
    last: tuple[int, dict[str, Any]] | None = None
    first_at: datetime | None = None
    if cut.positions:
        rows = (
            Entry.objects.filter(covered, annotator_id=annotator_id)
            .order_by("chain", "seq")
            .values_list(
                "id",
                "chain",
                "seq",
                "hash",
                "kind",
                "reference",
                "amount",
                "project_id",
                "created_at",
            )
        )
        for (
            pk,
            chain,
            seq,
            digest,
            kind,
            reference,
            amount,
            project_id,
            created_at,
        ) in rows.iterator(chunk_size=5000):
            lines.append(f"{chain}:{seq}:{digest}")
            anchors[chain] = {"chain": chain, "seq": seq, "hash": digest}
            if last is None or pk > last[0]:
                last = (pk, anchors[chain])
            first_at = created_at if first_at is None else min(first_at, created_at)
            month = _entry_month(chain, created_at)
            if kind == Kind.PAYOUT:
                payouts[month] += amount
            elif kind in EARNING_KINDS:
                cell = cells[(project_id, month)]
                cell.earnings[kind] += amount
                if kind == Kind.TASK_PAY:
                    cell.submitted += 1
                elif kind == Kind.ADJUSTMENT and reference.startswith("reject:"):
                    cell.rejected += 1
                elif kind == Kind.ADJUSTMENT and reference.startswith("appeal:"):
                    cell.overturned += 1
    if cut.settled_through is not None:
        settled = Settlement.objects.filter(
            annotator_id=annotator_id,
            job__status=JobStatus.DONE,
            job__period_end__lte=cut.settled_through,
        ).values_list(
            "project_id",
            "job__period_end",
            "active_seconds",
            "instructions_seconds",
            "break_seconds",
        )
        for project_id, period_end, active, instructions, breaks in settled.iterator(
            chunk_size=5000
        ):
            cell = cells[(project_id, _month(period_end - timedelta(microseconds=1)))]
            cell.active += active
            cell.instructions += instructions
            cell.breaks += breaks
    approvals = Review.objects.filter(
        annotation__annotator_id=annotator_id,
        status=Review.Status.APPROVED,
        reviewed_at__lte=cut.as_of,
    ).values_list("project_id", "reviewed_at")
    for project_id, reviewed_at in approvals.iterator(chunk_size=5000):
        cells[(project_id, _month(reviewed_at))].approved += 1

    titles = dict(
        Project.objects.filter(pk__in={p for p, _m in cells if p is not None}).values_list(
            "pk", "title"
        )
    )
    by_project: dict[int | None, list[tuple[str, _Cell]]] = defaultdict(list)
    for (project_id, month), cell in cells.items():
        by_project[project_id].append((month, cell))
    projects = []
    grand = _Cell()
    for project_id in sorted(by_project, key=lambda p: (p is None, p or 0)):
        total = _Cell()
        months = []
        for month, cell in sorted(by_project[project_id]):
            total.add(cell)
            months.append({"month": month, **cell.figures()})
        grand.add(total)
        projects.append(
            {
                "project": project_id,
                "title": titles.get(project_id, "") if project_id is not None else "",
                "months": months,
                "totals": total.figures(),
            }
        )
    paid_out = -sum(payouts.values(), Decimal(0))
    totals = grand.figures()
    earned = Decimal(totals["earned"])
    totals.update({"paid_out": str(money(paid_out)), "balance": str(money(earned - paid_out))})
    all_months = sorted({m for _p, m in cells} | set(payouts))
    return {
        "format": FORMAT,
        "annotator": {"pseudonym": pseudonym},
        "currency": settings.FAIRLABEL_CURRENCY,
        "generated_at": _stamp(cut.as_of),
        "months_in": "UTC",
        "period": {
            "first_month": all_months[0] if all_months else None,
            "last_month": all_months[-1] if all_months else None,
            "first_entry_at": _stamp(first_at) if first_at else None,
            "settled_through": _stamp(cut.settled_through) if cut.settled_through else None,
        },
        "projects": projects,
        "payouts": [
            {"month": m, "amount": str(money(-payouts[m]))} for m in sorted(payouts) if payouts[m]
        ],
        "totals": totals,
        "ledger": {
            "chains": [anchors[c] for c in sorted(anchors)],
            "last_entry": last[1] if last else None,
            "entries": len(lines),
            "entries_digest": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
            "entries_digest_form": "SHA-256 of the lines 'chain:seq:hash' of every covered "
            "entry of this annotator, in (chain, seq) order, joined by newlines",
        },
        "notes": {
            "paid_time": "Paid time as settled: active labeling time measured by heartbeats, "
            "reading instructions and paid breaks, counted in the month its settlement period "
            "ends (UTC). Work not settled yet is not in it.",
            "tasks": "submitted: tasks paid their piece price in the month; rejected and "
            "rejection_overturned: rejections and upheld appeals written in the month; "
            "approved: approvals given in the month, up to generated_at.",
            "earnings": "Sums of ledger entries by kind (adjustments are the corrections of "
            "rejections and appeals); earned is their total, balance is earned less paid_out.",
            "verify": "POST this file to /api/work-records/verify/ or upload it at "
            "/work-record/verify/ on the Fairlabel that issued it.",
        },
    }


def work_record_of(
    *, annotator, now: datetime | None = None, cut: str | None = None
) -> dict[str, Any]:
    """The annotator's work record as of now, ready to save as a file. With `cut` (a token from
    `work_record_cut_token`), the same record again: the page and its download agree."""
    pseudonym = pseudonym_of(annotator)
    with ledger.snapshot():
        if cut is not None:
            the_cut = _cut_from_token(cut, annotator_id=annotator.pk)
        else:
            positions = dict(
                Entry.objects.filter(annotator=annotator)
                .values_list("chain")
                .annotate(seq=Max("seq"))
                .values_list("chain", "seq")
            )
            settled_through = (
                SettlementJob.objects.filter(status=JobStatus.DONE)
                .order_by("-period_end")
                .values_list("period_end", flat=True)
                .first()
            )
            the_cut = _Cut(
                positions=positions, settled_through=settled_through, as_of=now or timezone.now()
            )
        body = _body(annotator_id=annotator.pk, pseudonym=pseudonym, cut=the_cut)
    digest = record_hash_of(body)
    return {
        "record": body,
        "record_hash": digest,
        "hash_algorithm": HASH_ALGORITHM,
        "canonical": CANONICAL,
        "seal": _seal(digest),
    }


CUT_SALT = "payments.work_record.cut"
CUT_MAX_AGE = 24 * 3600


def work_record_cut_token(*, annotator, document: dict[str, Any]) -> str:
    """A signed note of what `document` covers, for its owner to download it again as is."""
    body = document["record"]
    return signing.dumps(
        {
            "u": annotator.pk,
            "c": [[a["chain"], a["seq"]] for a in body["ledger"]["chains"]],
            "s": body["period"]["settled_through"],
            "t": body["generated_at"],
        },
        salt=CUT_SALT,
        compress=True,
    )


def _cut_from_token(token: str, *, annotator_id: int) -> _Cut:
    from fairlabel.errors import DomainError

    try:
        data = signing.loads(token, salt=CUT_SALT, max_age=CUT_MAX_AGE)
        if data["u"] != annotator_id:
            raise ValueError("another annotator's")
        return _Cut(
            positions={int(c): int(s) for c, s in data["c"]},
            settled_through=None if data["s"] is None else _parse_time(data["s"]),
            as_of=_parse_time(data["t"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise DomainError(
            "invalid_cut", _("This download link is out of date: open the record page again.")
        ) from exc


# --- verification ------------------------------------------------------------------------------


def _problem(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **extra}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        raise ValueError("not a time")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


def _diff(given: Any, expected: Any, path: str, out: list[str]) -> None:
    """The paths where `given` differs from `expected`; lists of rows are matched by their key
    (project id, month), so a changed row is named rather than every row after it."""
    if isinstance(expected, dict) and isinstance(given, dict):
        for key in sorted(set(expected) | set(given), key=str):
            _diff(given.get(key), expected.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(expected, list) and isinstance(given, list) and _keyed(expected + given):
        key = _row_key(expected + given)
        want = {str(row.get(key)): row for row in expected}
        got = {str(row.get(key)): row for row in given if isinstance(row, dict)}
        for name in sorted(set(want) | set(got)):
            _diff(got.get(name), want.get(name), f"{path}[{key}={name}]", out)
        if len(got) != len(given):
            out.append(path)
    elif given != expected:
        out.append(path)


def _row_key(rows: list) -> str:
    return "project" if "project" in rows[0] else "month"


def _keyed(rows: list) -> bool:
    return bool(rows) and all(
        isinstance(r, dict) and ("project" in r or "month" in r) for r in rows
    )


def _anchor_only(body: dict[str, Any]) -> dict[str, Any]:
    """What the anchored entries alone decide: earnings, tasks paid and rejected, payouts and
    the ledger section. Hours (settlements) and approvals hang on the record's own cut-off
    times, which only the seal vouches for."""

    def strip(figures: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in figures.items() if k not in SETTLEMENT_KEYS}
        tasks = dict(kept.get("tasks") or {})
        tasks.pop("approved", None)
        kept["tasks"] = tasks
        return kept

    projects = []
    for project in body.get("projects") or []:
        if not isinstance(project, dict):
            continue
        months = [
            {"month": m.get("month"), **strip(m)}
            for m in project.get("months") or []
            if isinstance(m, dict)
            and (m.get("earnings") or (m.get("tasks") or {}).get("submitted"))
        ]
        if months:
            projects.append({"project": project.get("project"), "months": months})
    totals = body.get("totals") if isinstance(body.get("totals"), dict) else {}
    return {
        "projects": projects,
        "payouts": body.get("payouts"),
        "totals": strip(totals),
        "ledger": body.get("ledger"),
    }


def _figures(body: dict[str, Any]) -> dict[str, Any]:
    """Everything but the titles (a project may be renamed after the record was made)."""
    projects = [
        {k: v for k, v in p.items() if k != "title"} if isinstance(p, dict) else p
        for p in body.get("projects") or []
    ]
    return {**body, "projects": projects}


def work_record_verify(*, document: Any) -> dict[str, Any]:
    """Check a work record against the ledger: `{"ok", "problems", "checked"}`. Problems name
    what fails and where, never a figure of the ledger, so the answer tells nothing the record
    does not already hold."""
    try:
        return _verify(document)
    except (AttributeError, KeyError, TypeError, ValueError):  # a body of the wrong shapes
        return {
            "ok": False,
            "problems": [_problem("malformed", _("This is not a Fairlabel work record."))],
            "checked": {"record_hash": False, "seal": False, "anchor": None, "figures": None},
        }


def _verify(document: Any) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []
    checked: dict[str, Any] = {
        "record_hash": False,
        "seal": False,
        "anchor": None,
        "figures": None,
    }
    if not isinstance(document, dict) or not isinstance(document.get("record"), dict):
        problems.append(_problem("malformed", _("This is not a Fairlabel work record.")))
        return {"ok": False, "problems": problems, "checked": checked}
    body = document["record"]
    digest = record_hash_of(body)
    checked["record_hash"] = digest == document.get("record_hash")
    if not checked["record_hash"]:
        problems.append(
            _problem(
                "record_hash_mismatch",
                _(
                    "The record's hash does not match its content: it was changed after it was "
                    "made, or the hash was."
                ),
            )
        )
    checked["seal"] = _seal_holds(digest, document.get("seal"))
    if not checked["seal"]:
        problems.append(
            _problem("seal_invalid", _("The seal does not match: this Fairlabel did not issue it."))
        )
    if body.get("format") != FORMAT:
        problems.append(
            _problem("malformed", _("Unknown format (expected %(f)s).") % {"f": FORMAT})
        )
        return {"ok": False, "problems": problems, "checked": checked}

    # Whose record: the pseudonym names the annotator; the anchor must be that annotator's.
    pseudonym = (body.get("annotator") or {}).get("pseudonym")
    profile = (
        Profile.objects.filter(pseudonym=pseudonym).values_list("user_id", flat=True).first()
        if isinstance(pseudonym, str)
        else None
    )
    ledger_part = body.get("ledger") if isinstance(body.get("ledger"), dict) else {}
    chains = ledger_part.get("chains")
    anchor_problem = _problem(
        "anchor_mismatch",
        _(
            "The ledger holds no entry of this record's annotator with the hash the record anchors "
            "to at the position it names."
        ),
    )
    positions: dict[int, int] = {}
    if profile is None or not isinstance(chains, list):
        problems.append(anchor_problem)
        checked["anchor"] = False
    else:
        wanted = []
        for anchor in chains:
            try:
                wanted.append((int(anchor["chain"]), int(anchor["seq"]), str(anchor["hash"])))
            except (KeyError, TypeError, ValueError):
                wanted.append(None)
        found = set()
        if wanted and None not in wanted:
            place = Q()
            for chain, seq, _h in wanted:
                place |= Q(chain=chain, seq=seq)
            found = set(
                Entry.objects.filter(place, annotator_id=profile).values_list(
                    "chain", "seq", "hash"
                )
            )
        ok = None not in wanted and all(w in found for w in wanted)
        ok = ok and len({w[0] for w in wanted}) == len(wanted)
        checked["anchor"] = ok
        if ok:
            positions = {chain: seq for chain, seq, _h in wanted}
        else:
            problems.append(anchor_problem)
    if checked["anchor"]:
        try:
            settled = body["period"]["settled_through"]
            cut = _Cut(
                positions=positions,
                settled_through=None if settled is None else _parse_time(settled),
                as_of=_parse_time(body["generated_at"]),
            )
        except (KeyError, TypeError, ValueError):
            problems.append(_problem("malformed", _("The record's period or date is unreadable.")))
            return {"ok": False, "problems": problems, "checked": checked}
        with ledger.snapshot():
            altered = _altered_entries(annotator_id=profile, positions=positions)
            expected = _body(annotator_id=profile, pseudonym=pseudonym, cut=cut)
        if altered:
            problems.append(
                _problem(
                    "ledger_entry_altered",
                    _(
                        "Entries the record covers no longer match their own hash: the ledger "
                        "needs an auditor's check (manage.py verify_ledger)."
                    ),
                )
            )
        differences: list[str] = []
        if checked["seal"]:
            _diff(_figures(body), _figures(expected), "", differences)
        else:
            # Unsealed: compare only what the anchor fixes, so that moving the record's dates
            # cannot be used to read later hours or approvals out of the answers.
            _diff(_anchor_only(body), _anchor_only(expected), "", differences)
        checked["figures"] = not differences
        problems.extend(
            _problem(
                "figure_mismatch",
                _(
                    "This figure differs from what the ledger holds for the entries the record "
                    "covers."
                ),
                field=path,
            )
            for path in differences[:100]
        )
        if checked["figures"]:
            checked["entries"] = expected["ledger"]["entries"]
    return {"ok": not problems, "problems": problems, "checked": checked}


def _altered_entries(*, annotator_id: int, positions: dict[int, int]) -> int:
    covered = Q()
    for chain, seq in positions.items():
        covered |= Q(chain=chain, seq__lte=seq)
    rows = Entry.objects.filter(covered, annotator_id=annotator_id).values_list(
        "prev_hash", "hash", *HASHED_FIELDS, named=True
    )
    return sum(
        1
        for row in rows.iterator(chunk_size=5000)
        if entry_hash(prev_hash=row.prev_hash, **{n: getattr(row, n) for n in HASHED_FIELDS})
        != row.hash
    )


def work_record_filename(document: dict[str, Any]) -> str:
    body = document["record"]
    day = body["generated_at"][:10]
    return f"fairlabel-work-record-{body['annotator']['pseudonym']}-{day}.json"


__all__ = [
    "CANONICAL",
    "MAX_BYTES",
    "canonical_json",
    "record_hash_of",
    "work_record_cut_token",
    "work_record_filename",
    "work_record_of",
    "work_record_verify",
]
