"""The ledger's mechanics: appending hash-chained entries, and verifying them.

Entries are appended to one of several chains. An annotator's movements (reservations and pay at
the dispatcher) go to the chain of its shard, so concurrent claims of different annotators do not
wait on one chain head; settlement writes to its own chain, and funding, payouts, reviews and
corrections to the control chain. Within a chain each entry's hash covers its fields and the
previous entry's hash; the ledger's head is the hash over every chain's head.

The caller holds the transaction; appending locks the chain's head row until it commits.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from payments.models import (
    FROM_RESERVATION,
    PAY_KINDS,
    BudgetShard,
    ChainHead,
    Entry,
    Kind,
    LedgerCheckpoint,
    Reservation,
)

CENT = Decimal("0.01")
HOT_CHAINS = 16
CHAIN_SETTLEMENT = HOT_CHAINS
CHAIN_CONTROL = HOT_CHAINS + 1
GENESIS = "0" * 64


def money(value: Decimal, *, up: bool = False) -> Decimal:
    """To the cent; `up` for amounts owed to an annotator under a guarantee (never short)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_UP if up else ROUND_HALF_UP)


def floor_pay(hourly: Decimal, seconds: Decimal, *, up: bool = False) -> Decimal:
    return money(Decimal(hourly) * Decimal(seconds) / 3600, up=up)


def chain_of(annotator_id: int) -> int:
    return annotator_id % HOT_CHAINS


@dataclass(frozen=True)
class Movement:
    kind: str
    reference: str
    amount: Decimal
    project_id: int | None = None
    annotator_id: int | None = None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The fields an entry's hash covers, besides the previous hash.
HASHED_FIELDS = (
    "chain",
    "seq",
    "kind",
    "reference",
    "amount",
    "currency",
    "project_id",
    "annotator_id",
    "created_at",
)


def entry_hash(
    *,
    prev_hash: str,
    chain: int,
    seq: int,
    kind: str,
    reference: str,
    amount: Decimal,
    currency: str,
    project_id: int | None,
    annotator_id: int | None,
    created_at: datetime,
) -> str:
    """SHA-256 over the entry's fields and the previous hash, in a fixed text form."""
    text = "|".join(
        (
            prev_hash,
            str(chain),
            str(seq),
            kind,
            reference,
            f"{Decimal(amount).quantize(CENT)}",
            currency,
            "" if project_id is None else str(project_id),
            "" if annotator_id is None else str(annotator_id),
            _stamp(created_at),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def chain_lock(chain: int) -> ChainHead:
    """The chain's head row, locked until the caller's transaction ends (also a mutex for
    whatever appends to that chain)."""
    head = ChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        ChainHead.objects.bulk_create([ChainHead(chain=chain)], ignore_conflicts=True)
        head = ChainHead.objects.select_for_update().get(chain=chain)
    return head


def append(
    movements: Sequence[Movement],
    *,
    chain: int,
    now: datetime,
    skip_existing: bool = False,
) -> list[Entry]:
    """Append the movements to `chain` in the caller's transaction. With `skip_existing`, a
    movement whose (kind, reference) is already in the ledger is left out (a job run again);
    otherwise the unique constraint refuses it."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger.append needs the caller's transaction")
    movements = [m for m in movements if m.amount != 0]
    if not movements:
        return []
    head = chain_lock(chain)
    if skip_existing:
        movements = _not_yet_written(movements)
        if not movements:
            return []
    currency = settings.FAIRLABEL_CURRENCY
    entries = []
    prev, seq = head.hash, head.seq
    for movement in movements:
        seq += 1
        entry = Entry(
            chain=chain,
            seq=seq,
            kind=movement.kind,
            reference=movement.reference,
            amount=Decimal(movement.amount).quantize(CENT),
            currency=currency,
            project_id=movement.project_id,
            annotator_id=movement.annotator_id,
            created_at=now,
            prev_hash=prev,
        )
        entry.hash = prev = entry_hash(
            **{name: getattr(entry, name) for name in HASHED_FIELDS}, prev_hash=prev
        )
        entries.append(entry)
    Entry.objects.bulk_create(entries, batch_size=2000)
    ChainHead.objects.filter(chain=chain).update(seq=seq, hash=prev)
    return entries


def _not_yet_written(movements: Sequence[Movement]) -> list[Movement]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for movement in movements:
        by_kind[movement.kind].append(movement.reference)
    written: set[tuple[str, str]] = set()
    for kind, references in by_kind.items():
        for start in range(0, len(references), 5000):
            chunk = references[start : start + 5000]
            written.update(
                (kind, ref)
                for ref in Entry.objects.filter(kind=kind, reference__in=chunk).values_list(
                    "reference", flat=True
                )
            )
    return [m for m in movements if (m.kind, m.reference) not in written]


# --- budget shards: a project's uncommitted funds, in slices ------------------------------------

SHARDS = 8


def shards_credit(*, project_id: int, amount: Decimal) -> None:
    """Add funds (or a charge, negative) spread over the project's shards."""
    amount = Decimal(amount).quantize(CENT)
    if amount == 0:
        return
    BudgetShard.objects.bulk_create(
        [BudgetShard(project_id=project_id, shard=s) for s in range(SHARDS)],
        ignore_conflicts=True,
    )
    if amount < 0:
        # A charge: from the slices that hold the most, in shard order to avoid deadlocks.
        shards = list(
            BudgetShard.objects.select_for_update().filter(project_id=project_id).order_by("shard")
        )
        left = -amount
        for shard in sorted(shards, key=lambda s: -s.available):
            take = min(left, max(shard.available, Decimal("0")))
            if take > 0:
                shard.available -= take
                left -= take
        if left > 0:  # more than the project holds: it owes, the work is paid all the same
            shards[0].available -= left
        BudgetShard.objects.bulk_update(shards, ["available"])
        return
    share = (amount / SHARDS).quantize(CENT, rounding="ROUND_DOWN")
    rest = amount - share * SHARDS
    for shard in range(SHARDS):
        give = share + (rest if shard == 0 else 0)
        if give:
            _shard_add(project_id, shard, give)


def _shard_add(project_id: int, shard: int, amount: Decimal) -> None:
    BudgetShard.objects.filter(project_id=project_id, shard=shard).update(
        available=F("available") + amount
    )


_TAKE_PG = """
UPDATE payments_budgetshard SET available = available - %s
WHERE id = (
    SELECT id FROM payments_budgetshard
    WHERE project_id = %s AND available >= %s
    ORDER BY (shard = %s) DESC, available DESC
    LIMIT 1 FOR UPDATE {skip}
)
RETURNING shard
"""
_TAKE_LITE = """
UPDATE payments_budgetshard SET available = available - %s
WHERE id = (
    SELECT id FROM payments_budgetshard
    WHERE project_id = %s AND available >= %s
    ORDER BY (shard = %s) DESC, available DESC
    LIMIT 1
)
RETURNING shard
"""


def shard_take(*, project_id: int, amount: Decimal, prefer: int) -> int | None:
    """Take `amount` from one slice that holds it (the preferred one first; on PostgreSQL a
    slice another claim is using is skipped). None when no slice holds it even after pooling the
    slices together."""
    amount = Decimal(amount).quantize(CENT)
    prefer %= SHARDS
    params = [amount, project_id, amount, prefer]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for skip in ("SKIP LOCKED", ""):
                cursor.execute(_TAKE_PG.format(skip=skip), params)
                row = cursor.fetchone()
                if row is not None:
                    return row[0]
        else:
            cursor.execute(_TAKE_LITE, params)
            row = cursor.fetchone()
            if row is not None:
                return row[0]
    # No single slice holds it: pool the slices into one, then try once more.
    shards = list(
        BudgetShard.objects.select_for_update().filter(project_id=project_id).order_by("shard")
    )
    total = sum((s.available for s in shards), Decimal("0"))
    if total < amount or not shards:
        return None
    for shard in shards:
        shard.available = Decimal("0")
    shards[0].available = total - amount
    BudgetShard.objects.bulk_update(shards, ["available"])
    return shards[0].shard


def budget_available(project_id: int) -> Decimal:
    """The project's uncommitted funds: its slices together, in one read."""
    total = BudgetShard.objects.filter(project_id=project_id).aggregate(t=Sum("available"))["t"]
    return Decimal(total or 0)


def shard_give(*, project_id: int, shard: int, amount: Decimal) -> None:
    if amount:
        _shard_add(project_id, shard, Decimal(amount).quantize(CENT))


# --- verification ---------------------------------------------------------------------------


@dataclass
class Verification:
    ok: bool
    entries: int
    head: str
    problems: list[str]
    # Per chain, the last entry found good (seq, hash), before any break in that chain.
    verified: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Per chain, the (seq, hash) the check started from: (0, GENESIS) unless from a checkpoint.
    started: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Chains with a broken entry (or checkpoint): a checkpoint never moves forward on them.
    broken: set[int] = field(default_factory=set)
    full: bool = True
    # The oldest time at which the entries before `started` were rehashed (incremental only).
    checkpoint_at: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "problems": self.problems[:100],
        }

    def report_dict(self) -> dict:
        """What a report records of the check: what was rehashed, from where, through where."""
        return {
            "ok": self.ok,
            "full": self.full,
            "entries_checked": self.entries,
            "checked_from": {str(c): s for c, (s, _h) in sorted(self.started.items()) if s},
            "verified_through": {str(c): s for c, (s, _h) in sorted(self.verified.items())},
            "checkpoint_verified_at": self.checkpoint_at.isoformat()
            if self.checkpoint_at
            else None,
            "problems": self.problems[:5],
        }


def ledger_head(heads: Iterable[tuple[int, int, str]]) -> str:
    """One hash over every chain's (chain, seq, hash), in chain order."""
    text = ";".join(f"{c}:{s}:{h}" for c, s, h in sorted(heads))
    return hashlib.sha256(text.encode()).hexdigest()


def _entry_rows(queryset):
    return queryset.order_by("chain", "seq").values_list(
        "id", "prev_hash", "hash", *HASHED_FIELDS, named=True
    )


@dataclass
class _Scan:
    count: int
    ends: dict[int, tuple[int, str]]
    good: dict[int, tuple[int, str]]
    broken: set[int]
    problems: list[str]


def _scan(rows, starts: dict[int, tuple[int, str]], *, chunk: int) -> _Scan:
    """Rehash `rows` (entries in chain, seq order), each chain continuing from its start."""
    scan = _Scan(count=0, ends=dict(starts), good=dict(starts), broken=set(), problems=[])
    for row in rows.iterator(chunk_size=chunk):
        pk, chain, seq, prev, digest = row.id, row.chain, row.seq, row.prev_hash, row.hash
        scan.count += 1
        last_seq, last_hash = scan.ends.get(chain, (0, GENESIS))
        bad = False
        if seq != last_seq + 1 or prev != last_hash:
            scan.problems.append(f"entry {pk}: chain {chain} breaks at position {seq}")
            bad = True
        expected = entry_hash(
            prev_hash=prev, **{name: getattr(row, name) for name in HASHED_FIELDS}
        )
        if expected != digest:
            scan.problems.append(f"entry {pk}: its hash does not match its fields")
            bad = True
        scan.ends[chain] = (seq, digest)
        if bad:
            scan.broken.add(chain)
        elif chain not in scan.broken:
            scan.good[chain] = (seq, digest)
    return scan


@contextmanager
def snapshot() -> Iterator[None]:
    """One consistent read for a whole check (PostgreSQL: one snapshot, read only, unless the
    caller's transaction already holds one): appends going on meanwhile are not half-seen."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def verify(*, chunk: int = 20000) -> Verification:
    """Recompute every entry's hash in chain order, check each chain against its head row, and
    check that every kept balance (budget slices, open reservations) equals its entries' sum."""
    with snapshot():
        scan = _scan(_entry_rows(Entry.objects.all()), {}, chunk=chunk)
        problems = scan.problems
        for head in ChainHead.objects.all():
            seen = scan.ends.get(head.chain, (0, GENESIS))
            if (head.seq, head.hash) != seen:
                problems.append(
                    f"chain {head.chain}: head says {head.seq}, entries end at {seen[0]}"
                )
        problems.extend(_balance_problems())
    head = ledger_head((c, s, h) for c, (s, h) in scan.ends.items())
    return Verification(
        ok=not problems,
        entries=scan.count,
        head=head,
        problems=problems,
        verified=scan.good,
        broken=scan.broken,
    )


def verify_since_checkpoints(*, chunk: int = 20000) -> Verification:
    """The chain's status at the cost of what was written since the last checkpoints.

    The chain heads are read first; each chain's entries after its checkpoint, up to its head,
    are rehashed and linked to the checkpoint's hash, and the chain must end at its head. Of the
    entries through a checkpoint, the checkpoint's own entry is rehashed and must carry the
    checkpoint's hash, and their number must be the checkpoint's position (none removed or
    added); their fields were rehashed when the checkpoint was set (`checkpoint_at`), and the
    full `verify()` (`manage.py verify_ledger`, the nightly beat job) rehashes them again. The
    kept balances are checked against every entry's sum, as in the full check. Entries appended
    after the heads were read are left to the next check."""
    heads = {h.chain: (h.seq, h.hash) for h in ChainHead.objects.all()}
    points = {p.chain: p for p in LedgerCheckpoint.objects.filter(seq__gt=0)}
    problems: list[str] = []
    broken: set[int] = set()
    starts: dict[int, tuple[int, str]] = {}
    for chain, point in points.items():
        if point.seq > heads.get(chain, (0, GENESIS))[0]:
            problems.append(f"chain {chain}: checkpoint at {point.seq} is past the chain's head")
            broken.add(chain)
        else:
            starts[chain] = (point.seq, point.hash)
    checked, broken_points = _checkpoint_problems({c: starts[c] for c in starts})
    problems.extend(checked)
    broken |= broken_points
    tails = Q()
    for chain, (head_seq, _hash) in heads.items():
        start = starts.get(chain, (0, GENESIS))[0]
        if head_seq > start:
            tails |= Q(chain=chain, seq__gt=start, seq__lte=head_seq)
    rows = Entry.objects.filter(tails) if tails else Entry.objects.none()
    scan = _scan(_entry_rows(rows), starts, chunk=chunk)
    problems.extend(scan.problems)
    broken |= scan.broken
    for chain, (seq, digest) in sorted(heads.items()):
        seen = scan.ends.get(chain, (0, GENESIS))
        if (seq, digest) != seen:
            problems.append(f"chain {chain}: head says {seq}, entries end at {seen[0]}")
    problems.extend(_balance_problems())
    dates = [p.verified_at for c, p in points.items() if c in starts]
    return Verification(
        ok=not problems,
        entries=scan.count,
        head=ledger_head((c, s, h) for c, (s, h) in scan.ends.items()),
        problems=problems,
        verified={c: v for c, v in scan.good.items() if c not in broken},
        started=starts,
        broken=broken,
        full=False,
        checkpoint_at=min(dates) if dates else None,
    )


def _checkpoint_problems(starts: dict[int, tuple[int, str]]) -> tuple[list[str], set[int]]:
    """Each checkpoint's entry still carries its hash and rehashes to it, and exactly `seq`
    entries lie at or before it (positions are unique per chain, from 1)."""
    if not starts:
        return [], set()
    problems: list[str] = []
    at = Q()
    before = Q()
    for chain, (seq, _hash) in starts.items():
        at |= Q(chain=chain, seq=seq)
        before |= Q(chain=chain, seq__lte=seq)
    found = {row.chain: row for row in _entry_rows(Entry.objects.filter(at))}
    counts = dict(Entry.objects.filter(before).values_list("chain").annotate(n=Count("id")))
    broken: set[int] = set()
    for chain, (seq, digest) in sorted(starts.items()):
        row = found.get(chain)
        if row is None or row.hash != digest:
            problems.append(f"chain {chain}: the entry at checkpoint {seq} is not the one verified")
            broken.add(chain)
        elif (
            entry_hash(
                prev_hash=row.prev_hash, **{name: getattr(row, name) for name in HASHED_FIELDS}
            )
            != digest
        ):
            problems.append(f"entry {row.id}: its hash does not match its fields")
            broken.add(chain)
        if counts.get(chain, 0) != seq:
            problems.append(f"chain {chain}: {counts.get(chain, 0)} entries up to checkpoint {seq}")
            broken.add(chain)
    return problems, broken


def checkpoints_advance(*, now: datetime, full: bool = False) -> Verification:
    """Verify (all entries with `full`, else those since the checkpoints) and record, per chain,
    the last entry found good. Idempotent: nothing new, nothing changes. An incremental check
    only moves a checkpoint forward, and only from where it started (a full check that moved it
    back meanwhile wins); a full check that finds a chain broken moves its checkpoint back to the
    last good entry before the break, so every later report shows the break until it is dealt
    with. Call it outside a transaction: the full check takes its own snapshot."""
    result = verify() if full else verify_since_checkpoints()
    with transaction.atomic():
        points = {
            p.chain: p for p in LedgerCheckpoint.objects.select_for_update().order_by("chain")
        }
        chains = set(result.verified) | (result.broken if full else set())
        for chain in sorted(chains):
            seq, digest = result.verified.get(chain, (0, GENESIS))
            point = points.get(chain)
            current = (point.seq, point.hash) if point else (0, GENESIS)
            if full:
                move = (seq, digest) != current and (chain in result.broken or seq > current[0])
            else:
                move = seq > current[0] and current == result.started.get(chain, (0, GENESIS))
            if not move:
                continue
            LedgerCheckpoint.objects.update_or_create(
                chain=chain,
                defaults={"seq": seq, "hash": digest, "verified_at": now, "full": full},
            )
    return result


def project_sums() -> dict[int, dict[str, Decimal]]:
    sums: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = (
        Entry.objects.filter(project__isnull=False)
        .values_list("project_id", "kind")
        .annotate(total=Sum("amount"))
    )
    for project_id, kind, total in rows:
        sums[project_id][kind] += exact(total)
    return sums


def exact(total) -> Decimal:
    """A SUM of money columns, to the cent. SQLite adds decimals as floating point (414.72
    comes back as 414.719999999999); PostgreSQL's numeric sums are already exact."""
    return Decimal(total or 0).quantize(CENT)


def available_of(sums: dict[str, Decimal]) -> Decimal:
    """Funds not committed: funding - reservations + releases - charges outside reservations."""
    charged = sum(
        (sums.get(k, Decimal(0)) for k in PAY_KINDS if k not in FROM_RESERVATION), Decimal(0)
    )
    return (
        sums.get(Kind.FUNDING, Decimal(0))
        - sums.get(Kind.RESERVATION, Decimal(0))
        + sums.get(Kind.RELEASE, Decimal(0))
        - charged
        - sums.get(Kind.ADJUSTMENT, Decimal(0))
    )


def reserved_of(sums: dict[str, Decimal]) -> Decimal:
    return (
        sums.get(Kind.RESERVATION, Decimal(0))
        - sums.get(Kind.RELEASE, Decimal(0))
        - sums.get(Kind.TASK_PAY, Decimal(0))
        - sums.get(Kind.TIME_PAY, Decimal(0))
    )


def _balance_problems() -> list[str]:
    problems = []
    sums = project_sums()
    shards: dict[int, Decimal] = defaultdict(Decimal)
    for project_id, total in BudgetShard.objects.values_list("project_id").annotate(
        t=Sum("available")
    ):
        shards[project_id] = exact(total)
    open_held: dict[int, Decimal] = defaultdict(Decimal)
    for project_id, total in (
        Reservation.objects.filter(closed_at__isnull=True)
        .values_list("project_id")
        .annotate(t=Sum("amount"))
    ):
        open_held[project_id] = exact(total)
    for project_id in set(sums) | set(shards):
        project = sums.get(project_id, {})
        if available_of(project) != shards.get(project_id, Decimal(0)):
            problems.append(
                f"project {project_id}: budget {shards.get(project_id, 0)} but its entries "
                f"sum to {available_of(project)}"
            )
        if reserved_of(project) != open_held.get(project_id, Decimal(0)):
            problems.append(
                f"project {project_id}: {open_held.get(project_id, 0)} held by open "
                f"reservations but its entries hold {reserved_of(project)}"
            )
    return problems
