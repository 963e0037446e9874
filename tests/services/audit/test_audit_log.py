"""AuditLog on real PostgreSQL: gap-free concurrent appends, idempotency, and tamper detection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import psycopg
import pytest

from agentcoord.errors import InvalidInputError, StoreError
from agentcoord.services.audit.chain import Problem, build_entry
from agentcoord.services.audit.log import AuditLog, NewEntry, append_entries
from agentcoord.services.audit.verify import verify_log
from agentcoord.store.audit import AuditEntry, EntryFilter, append_transaction, read_entry_rows
from agentcoord.store.events import EventPosition, load_offset, save_offset


async def _append_many(log: AuditLog, count: int) -> list[AuditEntry]:
    entries = []
    for i in range(count):
        entry, appended = await log.append(
            f"req-{i}", actor="user:ana", action=f"act.{i % 2}", subject=f"mission/m{i % 3}", payload={"i": i}
        )
        assert appended
        entries.append(entry)
    return entries


def test_concurrent_appends_are_gap_free_and_the_chain_verifies(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)
    log = AuditLog(db)

    async def appender(worker: int) -> None:
        for i in range(50):
            await log.append(f"w{worker}-{i}", actor=f"worker:{worker}", action="test.append",
                             subject="system", payload={"worker": worker, "i": i})

    async def scenario() -> tuple[list[int], object, object]:
        await asyncio.gather(*(appender(w) for w in range(8)))
        seqs = [e.seq for e in await log.list_entries(page_size=1000)]
        return seqs, await log.verify(), await verify_log(db, batch=7)

    seqs, report, small_batches = runner.run(scenario())
    assert seqs == list(range(1, 401))
    assert report.intact and report.entries_checked == 400
    assert small_batches == report
    assert report.describe() == "audit log intact: 400 entries"


def test_replaying_an_event_id_returns_the_stored_entry_and_appends_nothing(
    runner, make_db, fresh_database_url: str
) -> None:
    log = AuditLog(make_db(fresh_database_url))

    async def scenario() -> tuple[AuditEntry, bool, AuditEntry, bool, int]:
        first, appended_first = await log.append(
            "req-1", actor="user:ana", action="review.accepted", subject="mission/m1", payload={"n": 1}
        )
        again, appended_again = await log.append(
            "req-1", actor="user:bob", action="other", subject="system", payload={"n": 2}
        )
        return first, appended_first, again, appended_again, len(await log.list_entries())

    first, appended_first, again, appended_again, count = runner.run(scenario())
    assert (appended_first, appended_again, count) == (True, False, 1)
    assert again == first
    assert first.payload == b'{"n":1}'


def test_an_event_id_repeated_within_one_batch_is_appended_once(runner, make_db, fresh_database_url: str) -> None:
    log = AuditLog(make_db(fresh_database_url))

    async def scenario() -> tuple[list[tuple[AuditEntry, bool]], list[tuple[AuditEntry, bool]], int]:
        first = await log.append_many([
            ("a", "user:ana", "act", "system", {"n": 1}),
            ("b", "user:ana", "act", "system", {"n": 2}),
            ("a", "user:bob", "other", "system", {"n": 3}),
        ])
        again = await log.append_many([("b", "user:ana", "act", "system", {}), ("c", "user:ana", "act", "system", {})])
        return first, again, len(await log.list_entries())

    first, again, count = runner.run(scenario())
    assert [appended for _, appended in first] == [True, True, False]
    assert first[2][0] == first[0][0] and first[0][0].payload == b'{"n":1}'
    assert [(entry.seq, appended) for entry, appended in again] == [(2, False), (3, True)]
    assert again[1][0].prev_hash == first[1][0].entry_hash
    assert count == 3


def test_a_replayed_id_inside_a_batch_stores_only_the_new_entries(runner, make_db, fresh_database_url: str) -> None:
    # The batch's COPY meets the stored id: the append goes back to its savepoint, looks the ids
    # up and stores the rest, chained on the same head and still gap-free.
    db = make_db(fresh_database_url)
    log = AuditLog(db)

    async def scenario() -> tuple[list[tuple[AuditEntry, bool]], list[tuple[AuditEntry, bool]], list[AuditEntry]]:
        first = await log.append_many([(f"r{i}", "user:ana", "act", "system", {"i": i}) for i in range(3)])
        mixed = await log.append_many([
            ("n1", "user:bob", "act", "system", {"n": 1}),
            ("r1", "user:bob", "changed", "system", {"n": 2}),  # replayed: the stored entry comes back
            ("n2", "user:bob", "act", "system", {"n": 3}),
            ("n1", "user:bob", "again", "system", {"n": 4}),  # repeated within the batch
            ("r2", "user:bob", "act", "system", {}),
        ])
        return first, mixed, await log.list_entries()

    first, mixed, stored = runner.run(scenario())
    assert [(entry.event_id, entry.seq, appended) for entry, appended in mixed] == [
        ("n1", 4, True), ("r1", 2, False), ("n2", 5, True), ("n1", 4, False), ("r2", 3, False),
    ]
    assert mixed[1][0] == first[1][0] and mixed[4][0] == first[2][0]
    assert mixed[3][0] == mixed[0][0] and mixed[0][0].payload == b'{"n":1}'
    assert [entry.event_id for entry in stored] == ["r0", "r1", "r2", "n1", "n2"]
    assert stored[3:] == [mixed[0][0], mixed[2][0]]
    assert stored[3].prev_hash == first[2][0].entry_hash
    assert runner.run(log.verify()).intact


def test_a_replay_at_the_start_of_a_full_batch_takes_the_fall_back(runner, make_db, fresh_database_url: str) -> None:
    # A full batch is far more than psycopg buffers before sending, so the server meets the stored
    # id while the rest of the COPY is still being written.
    log = AuditLog(make_db(fresh_database_url))
    batch = [(f"r{i}", "user:ana", "act", "system", {"i": i, "note": "x" * 200}) for i in range(1000)]

    async def scenario() -> tuple[AuditEntry, list[tuple[AuditEntry, bool]], int]:
        (first, _), = await log.append_many(batch[:1])
        return first, await log.append_many(batch), len(await log.list_entries(page_size=1000))

    first, results, count = runner.run(scenario(), timeout=60)
    assert results[0] == (first, False)
    assert [(entry.seq, appended) for entry, appended in results[1:]] == [(i + 1, True) for i in range(1, 1000)]
    assert count == 1000
    assert runner.run(log.verify()).intact


def test_a_batch_of_replays_alone_stores_nothing(runner, make_db, fresh_database_url: str) -> None:
    log = AuditLog(make_db(fresh_database_url))
    requests = [(f"r{i}", "user:ana", "act", "system", {"i": i}) for i in range(5)]

    async def scenario() -> tuple[list[tuple[AuditEntry, bool]], list[tuple[AuditEntry, bool]], int]:
        first = await log.append_many(requests)
        return first, await log.append_many(requests[::-1]), len(await log.list_entries())

    first, again, count = runner.run(scenario())
    assert again == [(entry, False) for entry, _ in first[::-1]]
    assert count == 5


def test_a_replay_rolls_back_only_the_append_in_the_callers_transaction(
    runner, make_db, fresh_database_url: str
) -> None:
    # The event appender appends and moves its offset in one transaction: the fall back after a
    # replayed id must keep what the transaction did before the append and after it.
    db = make_db(fresh_database_url)

    def new(event_id: str) -> NewEntry:
        return NewEntry(event_id, "user:ana", "act", "system", b"{}")

    async def scenario() -> tuple[list[tuple[int, bool]], EventPosition, int]:
        async with db.transaction() as conn:
            await append_entries(conn, [new("a")])
        async with db.transaction() as conn:
            await save_offset(conn, "test-consumer", EventPosition(xact_id=1, event_id=7))
            results = await append_entries(conn, [new("b"), new("a"), new("c")])
            await save_offset(conn, "test-consumer", EventPosition(xact_id=1, event_id=9))
        async with db.transaction() as conn:
            offset = await load_offset(conn, "test-consumer")
            count = len(await read_entry_rows(conn))
        return [(entry.seq, appended) for entry, appended in results], offset, count

    results, offset, count = runner.run(scenario())
    assert results == [(2, True), (1, False), (3, True)]
    assert offset == EventPosition(xact_id=1, event_id=9)
    assert count == 3


def test_an_append_transaction_rolls_back_on_error_and_commits_otherwise(
    runner, make_db, fresh_database_url: str
) -> None:
    # BEGIN rides in begin_append's pipeline, so the commit and rollback are append_transaction's.
    db = make_db(fresh_database_url)

    async def failing() -> None:
        async with append_transaction(db) as conn:
            await append_entries(conn, [NewEntry("lost", "a", "b", "c", b"{}")], begin=True)
            raise RuntimeError("after the COPY, before the commit")

    async def swallowing() -> None:
        async with append_transaction(db) as conn:
            await append_entries(conn, [NewEntry("also-lost", "a", "b", "c", b"{}")], begin=True)
            with contextlib.suppress(psycopg.Error):
                await conn.execute("SELECT 1 / 0")

    async def scenario() -> list[tuple[int, str]]:
        with pytest.raises(RuntimeError):
            await failing()
        with pytest.raises(StoreError, match="rolled back"):
            await swallowing()
        async with append_transaction(db) as conn:  # the lock was released: this one is not blocked
            await append_entries(conn, [NewEntry("kept", "a", "b", "c", b"{}")], begin=True)
        async with db.transaction() as conn:
            return [(row[0], row[1]) for row in await read_entry_rows(conn)]

    assert runner.run(scenario(), timeout=30) == [(1, "kept")]


def test_an_event_id_that_is_not_valid_unicode_is_refused_and_nothing_is_stored(
    runner, make_db, fresh_database_url: str
) -> None:
    log = AuditLog(make_db(fresh_database_url))
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        runner.run(log.append_many([("ok", "a", "b", "c", {}), ("bad\ud800", "a", "b", "c", {})]))
    assert runner.run(log.list_entries()) == []


def test_a_bad_request_in_a_batch_is_refused_naming_its_index(runner, make_db, fresh_database_url: str) -> None:
    log = AuditLog(make_db(fresh_database_url))
    batch = [(f"r{i}", "a", "b", "c", {"i": i}) for i in range(4)]
    for position, bad, field in [(2, ("r2", "", "b", "c", {}), "entries[2].actor"),
                                 (1, ("event:9", "a", "b", "c", {}), "entries[1].event_id"),
                                 (3, ("r3", "a", "b", "c", {"x": 0.5}), "entries[3].payload.x")]:
        with pytest.raises(InvalidInputError) as caught:
            runner.run(log.append_many(batch[:position] + [bad] + batch[position + 1 :]))  # type: ignore[list-item]
        assert caught.value.field == field
    assert runner.run(log.list_entries()) == []
    # A single batch is checked inside its transaction: each refusal rolled it back and let go of the lock.
    (entry, appended), *_ = runner.run(log.append_many(batch), timeout=30)
    assert (entry.seq, entry.event_id, appended) == (1, "r0", True)


def test_payload_secrets_never_reach_the_table(runner, make_db, fresh_database_url: str) -> None:
    log = AuditLog(make_db(fresh_database_url))
    runner.run(log.append("req-1", actor="agent:claude", action="tool.call", subject="system",
                          payload={"api_key": "abc", "cmd": "curl -H 'Authorization: Bearer s3cr3tvalue99'"}))
    with psycopg.connect(fresh_database_url) as conn:
        stored = conn.execute("SELECT payload FROM audit_log").fetchone()[0]
    assert stored == b'{"api_key":"[REDACTED]","cmd":"curl -H \'Authorization: [REDACTED]\'"}'


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"event_id": "event:12"}, "event_id"),
        ({"actor": ""}, "actor"),
        ({"payload": {"cost_usd": 1.25}}, "payload.cost_usd"),
    ],
)
def test_bad_appends_are_refused_naming_the_field(runner, db, fields: dict[str, object], bad_field: str) -> None:
    args: dict[str, object] = {"event_id": "req-x", "actor": "a", "action": "b", "subject": "c", "payload": {}}
    args.update(fields)
    event_id = args.pop("event_id")
    with pytest.raises(InvalidInputError) as caught:
        runner.run(AuditLog(db).append(event_id, **args))  # type: ignore[arg-type]
    assert caught.value.field == bad_field


def test_list_entries_pages_and_filters(runner, make_db, fresh_database_url: str) -> None:
    log = AuditLog(make_db(fresh_database_url))

    async def scenario() -> dict[str, list[int]]:
        await _append_many(log, 9)
        return {
            "page": [e.seq for e in await log.list_entries(after_seq=3, page_size=4)],
            "subject": [e.seq for e in await log.list_entries(where=EntryFilter(subject_prefix="mission/m1"))],
            "action": [e.seq for e in await log.list_entries(where=EntryFilter(action="act.0"), after_seq=2)],
        }

    got = runner.run(scenario())
    assert got == {"page": [4, 5, 6, 7], "subject": [2, 5, 8], "action": [3, 5, 7, 9]}
    with pytest.raises(InvalidInputError, match="page_size"):
        runner.run(log.list_entries(page_size=5000))


def test_the_app_cannot_update_delete_or_truncate(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)
    runner.run(_append_many(AuditLog(db), 1))

    async def attempt(sql: str) -> None:
        async with db.transaction() as conn:
            await conn.execute(sql)

    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(StoreError, match="append-only"):
            runner.run(attempt(sql))
    assert runner.run(AuditLog(db).verify()).entries_checked == 1


def test_payload_edited_behind_the_apps_back_is_reported_at_that_seq(
    runner, make_db, fresh_database_url: str, tamper
) -> None:
    db = make_db(fresh_database_url)
    runner.run(_append_many(AuditLog(db), 6))
    tamper("UPDATE audit_log SET payload = %s WHERE seq = 4", (b'{"i":999}',))

    report = runner.run(verify_log(db))
    assert (report.intact, report.first_bad_seq, report.problem) == (False, 4, Problem.CHANGED)
    assert report.describe() == "audit log TAMPERED at seq 4: changed (entry hash does not match its content)"
    # Ranges: before the edit is intact; a range starting after it is anchored on stored hashes.
    assert runner.run(verify_log(db, from_seq=1, to_seq=3)).intact
    assert runner.run(verify_log(db, from_seq=5)).intact
    assert runner.run(verify_log(db, from_seq=2, to_seq=5)).first_bad_seq == 4


def test_an_edit_with_a_recomputed_hash_is_caught_by_the_next_link(
    runner, make_db, fresh_database_url: str, tamper
) -> None:
    db = make_db(fresh_database_url)
    entries = runner.run(_append_many(AuditLog(db), 5))
    forged = build_entry(**{**_content(entries[1]), "payload": b'{"i":999}'})
    tamper(
        "UPDATE audit_log SET payload = %s, entry_hash = %s WHERE seq = 2",
        (forged.payload, forged.entry_hash),
    )
    report = runner.run(verify_log(db))
    assert (report.first_bad_seq, report.problem) == (3, Problem.BROKEN_LINK)


def _content(entry: AuditEntry) -> dict[str, object]:
    fields = dataclasses.asdict(entry)
    del fields["entry_hash"]
    return fields


def test_a_deleted_row_is_reported_as_a_gap(runner, make_db, fresh_database_url: str, tamper) -> None:
    db = make_db(fresh_database_url)
    runner.run(_append_many(AuditLog(db), 6))
    tamper("DELETE FROM audit_log WHERE seq = 3")
    report = runner.run(verify_log(db))
    assert (report.intact, report.first_bad_seq, report.problem) == (False, 3, Problem.MISSING)
    assert report.describe() == "audit log TAMPERED at seq 3: missing (expected seq 3, found seq 4)"


def test_verify_refuses_a_backwards_range(runner, db) -> None:
    with pytest.raises(InvalidInputError, match="to_seq"):
        runner.run(verify_log(db, from_seq=5, to_seq=2))
