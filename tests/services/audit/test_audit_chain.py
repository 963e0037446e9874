"""The hash chain: the documented encoding, and the verifier catching every kind of tampering."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.canonical import canonical_payload
from agentcoord.services.audit.chain import (
    ENTRY_DOMAIN,
    GENESIS_HASH,
    ChainVerifier,
    Problem,
    VerifyReport,
    build_entry,
    chain_rows,
    compute_entry_hash,
    format_recorded_at,
    hash_preimage,
    iter_chain_rows,
    verify_chain,
)
from agentcoord.store.audit import AuditEntry

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-format.md"
START = datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC)

payloads = st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.lists(st.integers(), max_size=3),
    max_size=4,
)


def make_chain(payload_list: list[dict[str, Any]]) -> list[AuditEntry]:
    """A well-formed chain, one entry per payload."""
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for i, payload in enumerate(payload_list):
        entry = build_entry(
            seq=i + 1,
            event_id=f"e{i + 1}",
            recorded_at=START + timedelta(seconds=i),
            actor="agent:sim",
            action="task.updated",
            subject="mission/m1",
            payload=canonical_payload(payload),
            prev_hash=prev,
        )
        entries.append(entry)
        prev = entry.entry_hash
    return entries


chains = st.lists(payloads, min_size=1, max_size=8).map(make_chain)


def flip(data: bytes, index: int, mask: int) -> bytes:
    """`data` with one byte xor-ed by a non-zero mask."""
    i = index % len(data)
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]


def test_worked_example_in_the_docs_recomputes() -> None:
    doc = DOC.read_text(encoding="utf-8")
    first = build_entry(
        seq=1,
        event_id="event:1",
        recorded_at=START,
        actor="agent:claude",
        action="usage.recorded",
        subject="mission/m1/task/t1",
        payload=canonical_payload(
            {"task_id": "t1", "cost_micro_usd": 1250, "agent": "claude", "api_key": "sk-ant-abcdefghijklmnopqrstuvwxyz"}
        ),
        prev_hash=GENESIS_HASH,
    )
    second = build_entry(
        seq=2,
        event_id="review-42",
        recorded_at=datetime(2025, 1, 2, 3, 5, tzinfo=UTC),
        actor="user:ana",
        action="review.accepted",
        subject="mission/m1/task/t1",
        payload=canonical_payload({"reason": "tests passed ✓", "files": ["a.py", "b.py"], "accepted": True}),
        prev_hash=first.entry_hash,
    )
    assert first.payload.decode() in doc
    for number, entry in ((1, first), (2, second)):
        preimage = hash_preimage(entry)
        assert preimage.startswith(ENTRY_DOMAIN)
        assert preimage[len(ENTRY_DOMAIN):].decode() in doc
        assert f"entry_hash({number}) = {entry.entry_hash.hex()}" in doc
    assert first.entry_hash.hex() == "d4d2ea2adadb7e2a625b52f16176181df52d107b039b046ba949e18d03fb7ad9"
    assert ENTRY_DOMAIN.hex(" ") in doc
    assert verify_chain([first, second]) == VerifyReport(intact=True, entries_checked=2)


def test_recorded_at_is_utc_with_microseconds() -> None:
    plus_two = datetime(2025, 1, 2, 7, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_recorded_at(plus_two) == "2025-01-02T05:04:05.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_recorded_at(datetime(2025, 1, 2))


@given(chains)
def test_an_untouched_chain_is_intact(entries: list[AuditEntry]) -> None:
    report = verify_chain(entries)
    assert report == VerifyReport(intact=True, entries_checked=len(entries))
    assert report.describe() == f"audit log intact: {len(entries)} {'entry' if len(entries) == 1 else 'entries'}"


@given(chains, st.data(), st.sampled_from(["payload", "entry_hash"]), st.integers(0, 10_000), st.integers(1, 255))
def test_flipping_a_byte_of_content_or_hash_is_caught_at_that_entry(
    entries: list[AuditEntry], data: st.DataObject, field: str, index: int, mask: int
) -> None:
    k = data.draw(st.integers(0, len(entries) - 1))
    entries[k] = dataclasses.replace(entries[k], **{field: flip(getattr(entries[k], field), index, mask)})
    report = verify_chain(entries)
    assert (report.intact, report.first_bad_seq, report.problem) == (False, k + 1, Problem.CHANGED)
    assert report.entries_checked == k + 1


@given(chains, st.data(), st.integers(0, 31), st.integers(1, 255))
def test_flipping_a_byte_of_prev_hash_breaks_the_link_there(
    entries: list[AuditEntry], data: st.DataObject, index: int, mask: int
) -> None:
    k = data.draw(st.integers(0, len(entries) - 1))
    entries[k] = dataclasses.replace(entries[k], prev_hash=flip(entries[k].prev_hash, index, mask))
    report = verify_chain(entries)
    assert (report.first_bad_seq, report.problem) == (k + 1, Problem.BROKEN_LINK)


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_deleting_an_entry_reports_the_missing_seq(entries: list[AuditEntry], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(entries) - 2))  # the newest entry needs a checkpoint to be missed
    del entries[k]
    report = verify_chain(entries)
    assert (report.first_bad_seq, report.problem) == (k + 1, Problem.MISSING)
    assert f"expected seq {k + 1}, found seq {k + 2}" in report.describe()


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_swapping_two_entries_is_caught_at_the_first_moved_seq(entries: list[AuditEntry], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(entries) - 2))
    j = data.draw(st.integers(i + 1, len(entries) - 1))
    entries[i], entries[j] = entries[j], entries[i]
    report = verify_chain(entries)
    assert not report.intact
    assert report.first_bad_seq == i + 1


@given(chains, st.data(), st.booleans())
def test_inserting_a_forged_entry_is_caught_at_its_seq(
    entries: list[AuditEntry], data: st.DataObject, self_consistent: bool
) -> None:
    k = data.draw(st.integers(0, len(entries) - 1))
    prev = entries[k - 1].entry_hash if k else GENESIS_HASH
    forged = build_entry(
        seq=k + 1, event_id="forged", recorded_at=START, actor="intruder", action="task.updated",
        subject="mission/m1", payload=b'{"forged":true}', prev_hash=prev,
    )
    if not self_consistent:
        forged = dataclasses.replace(forged, entry_hash=bytes(32))
    entries.insert(k, forged)
    report = verify_chain(entries)
    assert report.first_bad_seq == k + 1
    assert report.problem == (Problem.REORDERED if self_consistent else Problem.CHANGED)


def test_non_canonical_payload_bytes_count_as_changed_even_if_rehashed() -> None:
    [entry] = make_chain([{"a": 1, "b": 2}])
    spaced = b'{"a": 1,"b":2}'  # same JSON value, different bytes
    draft = dataclasses.replace(entry, payload=spaced)
    with pytest.raises(InvalidInputError, match="canonical"):
        compute_entry_hash(draft)
    report = verify_chain([draft])
    assert report.describe() == "audit log TAMPERED at seq 1: changed (payload bytes are not canonical JSON)"


def test_describe_names_the_problem_in_one_line() -> None:
    entries = make_chain([{"n": i} for i in range(3)])
    entries[1] = dataclasses.replace(entries[1], payload=b'{"n":7}')
    assert verify_chain(entries).describe() == (
        "audit log TAMPERED at seq 2: changed (entry hash does not match its content)"
    )


def test_a_range_is_anchored_on_the_entry_before_it() -> None:
    entries = make_chain([{"n": i} for i in range(5)])
    tail = entries[2:]
    assert verify_chain(tail, first_seq=3, prev_hash=entries[1].entry_hash).intact
    assert verify_chain(tail, first_seq=3, prev_hash=None).intact
    wrong_anchor = verify_chain(tail, first_seq=3, prev_hash=entries[0].entry_hash)
    assert (wrong_anchor.first_bad_seq, wrong_anchor.problem) == (3, Problem.BROKEN_LINK)


def test_the_verifier_streams_and_ignores_entries_after_the_first_failure() -> None:
    entries = make_chain([{"n": i} for i in range(4)])
    verifier = ChainVerifier()
    assert verifier.check(entries[0])
    assert not verifier.check(entries[2])
    assert verifier.failed
    assert not verifier.check(entries[1])
    report = verifier.report()
    assert (report.first_bad_seq, report.entries_checked, report.problem) == (2, 2, Problem.MISSING)


def test_chain_rows_hash_a_batch_exactly_as_build_entry_does_one_by_one() -> None:
    new = [
        ("e1", "agent:sim", "task.updated", "mission/m1", canonical_payload({"n": 1})),
        ('e"2\\', "agent:s\u00edm \u2028", "t\u00e4sk\n", "mission/m1", canonical_payload({"k\u00e9y": "v\u0001"})),
        ("e3", "agent:sim", "task.updated", "system", b"{}"),
    ]
    prev = bytes(range(32))
    rows = chain_rows(new, first_seq=41, prev_hash=prev, recorded_at=START)
    expected = []
    for seq, (event_id, actor, action, subject, payload) in enumerate(new, start=41):
        entry = build_entry(seq=seq, event_id=event_id, recorded_at=START, actor=actor, action=action,
                            subject=subject, payload=payload, prev_hash=prev)
        expected.append(entry)
        prev = entry.entry_hash
    assert [AuditEntry(*row) for row in rows] == expected
    assert chain_rows([], first_seq=1, prev_hash=GENESIS_HASH, recorded_at=START) == []


def test_rows_hashed_chunk_by_chunk_link_across_chunks() -> None:
    new = [(f"e{i}", "agent:sim", f"act.{i % 3}", f"mission/m{i % 5}", canonical_payload({"i": i}))
           for i in range(150)]  # more than two of iter_chain_rows' chunks
    rows = list(iter_chain_rows(new, first_seq=1, prev_hash=GENESIS_HASH, recorded_at=START))
    assert [row[0] for row in rows] == list(range(1, 151))
    assert verify_chain([AuditEntry(*row) for row in rows]).intact
    assert rows == chain_rows(new, first_seq=1, prev_hash=GENESIS_HASH, recorded_at=START)


def test_chain_rows_refuse_a_lone_surrogate_and_a_non_string() -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        chain_rows([("e\ud800", "a", "b", "c", b"{}")], first_seq=1, prev_hash=GENESIS_HASH, recorded_at=START)
    with pytest.raises(TypeError, match="expected a string"):
        chain_rows([("e1", "a", 7, "c", b"{}")], first_seq=1, prev_hash=GENESIS_HASH,  # type: ignore[list-item]
                   recorded_at=START)
    with pytest.raises(TypeError, match="bytes"):
        chain_rows([("e1", "a", "b", "c", "{}")], first_seq=1, prev_hash=GENESIS_HASH,  # type: ignore[list-item]
                   recorded_at=START)
