"""The differential scenarios: each one runs through the real pg-boss and through our port.

Keys are snake_case. Every scenario creates its own queues; time passes by ``advance`` (jobs'
timestamps move back) rather than by sleeping. ``tolerance_seconds`` bounds how far start_after
offsets may differ (the width of the jitter window for backoff scenarios).
"""

from __future__ import annotations

from typing import Any

from differential import Scenario

Q = "q"
DLQ = "dlq"
FIXED_ID = "5f0c1a64-6b9e-4d47-9a53-3c8f1b2f0a11"


def queue(name: str = Q, **options: Any) -> dict[str, Any]:
    return {"op": "create_queue", "name": name, "options": options}


def send(ref: str, name: str = Q, data: Any = None, **options: Any) -> dict[str, Any]:
    return {"op": "send", "name": name, "ref": ref, "data": data or {"ref": ref}, "options": options}


def fetch(*aliases: str, name: str = Q, **options: Any) -> dict[str, Any]:
    return {"op": "fetch", "name": name, "as": list(aliases), "options": options}


def act(op: str, *refs: str, name: str = Q, **extra: Any) -> dict[str, Any]:
    return {"op": op, "name": name, "refs": list(refs), **extra}


def advance(seconds: float, name: str = Q) -> dict[str, Any]:
    return {"op": "advance", "name": name, "seconds": seconds}


def _sends() -> list[Scenario]:
    return [
        Scenario(name="send_defaults", ops=[queue(), send("a")]),
        Scenario(
            name="send_priority_orders_fetch",
            ops=[queue(), send("low", priority=-3), send("high", priority=5), send("mid"), fetch(), fetch()],
        ),
        Scenario(
            name="send_start_after_seconds_defers",
            ops=[queue(), send("a", start_after=120), fetch(), advance(121), fetch()],
        ),
        Scenario(
            name="send_after_seconds",
            ops=[
                queue(),
                {"op": "send_after", "name": Q, "ref": "a", "data": {"x": 1}, "start_after": 300},
            ],
        ),
        Scenario(
            name="send_every_retry_and_lifetime_option",
            ops=[
                queue(),
                send(
                    "a",
                    retry_limit=5,
                    retry_delay=10,
                    retry_backoff=True,
                    retry_delay_max=100,
                    expire_in_seconds=60,
                    retention_seconds=3600,
                    delete_after_seconds=10,
                    heartbeat_seconds=30,
                ),
            ],
        ),
        Scenario(
            name="send_explicit_id_and_singleton_key_on_standard_queue",
            ops=[queue(), send("a", id=FIXED_ID, singleton_key="k"), send("b", singleton_key="k")],
        ),
        Scenario(
            name="queue_defaults_are_copied_to_jobs",
            ops=[
                queue(
                    retry_limit=4,
                    retry_delay=3,
                    retry_backoff=True,
                    retry_delay_max=30,
                    expire_in_seconds=120,
                    retention_seconds=7200,
                    delete_after_seconds=60,
                    heartbeat_seconds=20,
                ),
                send("a"),
                send("b", retry_limit=1, priority=2),
            ],
        ),
        Scenario(
            name="fetch_batch_and_priority_bounds",
            ops=[
                queue(),
                send("p0"),
                send("p1", priority=1),
                send("p2", priority=2),
                send("p3", priority=3),
                fetch(min_priority=1, max_priority=2, batch_size=5),
                fetch(batch_size=5, priority=False),
            ],
        ),
    ]


def _policies() -> list[Scenario]:
    return [
        Scenario(
            name="policy_short_allows_one_created",
            ops=[queue(policy="short"), send("a"), send("b"), fetch(), send("c"), send("d")],
        ),
        Scenario(
            name="policy_singleton_allows_one_active",
            ops=[
                queue(policy="singleton"),
                send("a"),
                send("b"),
                fetch(batch_size=2),
                fetch(),
                act("complete", "a"),
                fetch(),
            ],
        ),
        Scenario(
            name="policy_singleton_per_key",
            ops=[
                queue(policy="singleton"),
                send("a", singleton_key="k1"),
                send("b", singleton_key="k2"),
                send("c", singleton_key="k1"),
                fetch(batch_size=3),
            ],
        ),
        Scenario(
            name="policy_stately_one_per_state",
            ops=[queue(policy="stately"), send("a"), send("b"), fetch(), send("c"), send("d")],
        ),
        Scenario(
            name="policy_stately_second_retry_goes_to_failed_and_dead_letter",
            ops=[
                queue(DLQ),
                queue(policy="stately", retry_limit=2, retry_delay=60, dead_letter=DLQ),
                send("a"),
                fetch(),
                act("fail", "a", output={"why": "first"}),
                send("b"),
                fetch(),
                act("fail", "b", output={"why": "second"}),
            ],
        ),
        Scenario(
            name="policy_exclusive_one_queued_or_active",
            ops=[
                queue(policy="exclusive"),
                send("a"),
                send("b"),
                fetch(),
                send("c"),
                act("complete", "a"),
                send("d"),
            ],
        ),
        Scenario(
            name="policy_key_strict_fifo_blocks_a_failed_key",
            ops=[
                queue(policy="key_strict_fifo", retry_limit=0),
                {**send("nokey"), "expect_error": True},
                send("a", singleton_key="k1"),
                send("b", singleton_key="k1"),
                send("c", singleton_key="k2"),
                fetch(batch_size=3),
                act("fail", "a"),
                act("complete", "c"),
                fetch(batch_size=3),
            ],
        ),
    ]


def _failures() -> list[Scenario]:
    return [
        Scenario(
            name="fail_fixed_delay_until_exhausted",
            ops=[
                queue(retry_limit=2, retry_delay=30),
                send("a"),
                fetch(),
                act("fail", "a", output={"attempt": 1}),
                fetch(),
                advance(31),
                fetch(),
                act("fail", "a", output={"attempt": 2}),
                advance(31),
                fetch(),
                act("fail", "a", output={"attempt": 3}),
            ],
        ),
        Scenario(
            name="fail_exponential_backoff_window",
            tolerance_seconds=10.5,
            ops=[
                queue(retry_limit=3, retry_delay=10, retry_backoff=True),
                send("a"),
                fetch(),
                act("fail", "a"),
            ],
        ),
        Scenario(
            name="fail_backoff_capped_by_retry_delay_max",
            tolerance_seconds=2.5,
            ops=[
                queue(retry_limit=5, retry_delay=10, retry_backoff=True, retry_delay_max=12),
                send("a"),
                fetch(),
                act("fail", "a"),
                advance(13),
                fetch(),
                act("fail", "a"),
            ],
        ),
        Scenario(
            name="fail_with_no_retries_is_terminal",
            ops=[queue(retry_limit=0), send("a"), fetch(), act("fail", "a", output={"e": "x"})],
        ),
        Scenario(
            name="fail_a_queued_job_uses_the_retry_path",
            ops=[queue(), send("a"), send("b", retry_limit=0), act("fail", "a", "b")],
        ),
        Scenario(
            name="complete_output_and_not_active",
            ops=[
                queue(),
                send("a"),
                send("b"),
                fetch(),
                act("complete", "a", output={"ok": True, "n": [1, 2]}),
                act("complete", "b"),
                act("complete", "a"),
            ],
        ),
        Scenario(
            name="complete_include_queued",
            ops=[queue(), send("a"), act("complete", "a", options={"include_queued": True})],
        ),
        Scenario(
            name="cancel_resume",
            ops=[
                queue(),
                send("a"),
                send("b"),
                fetch(),
                act("cancel", "a", "b"),
                act("resume", "b"),
                act("complete", "a"),
                act("cancel", "a"),
            ],
        ),
        Scenario(
            name="retry_a_failed_job_raises_its_limit",
            ops=[
                queue(retry_limit=0),
                send("a"),
                fetch(),
                act("fail", "a"),
                act("retry", "a"),
                fetch(),
                act("retry", "a"),
            ],
        ),
        Scenario(name="delete_job", ops=[queue(), send("a"), send("b"), act("delete_job", "a")]),
    ]


def _supervision() -> list[Scenario]:
    return [
        Scenario(
            name="expiry_fails_through_retry_path",
            ops=[
                queue(retry_limit=1),
                send("a", expire_in_seconds=5),
                send("b", expire_in_seconds=5, retry_limit=0),
                fetch(batch_size=2),
                advance(10),
                {"op": "supervise", "name": Q},
            ],
        ),
        Scenario(
            name="heartbeat_timeout_fails_the_job",
            ops=[
                queue(retry_limit=0),
                send("a", heartbeat_seconds=10),
                fetch(),
                advance(25),
                {"op": "supervise", "name": Q},
            ],
        ),
        Scenario(
            name="maintenance_deletes_finished_and_stale_jobs",
            ops=[
                queue(delete_after_seconds=10, retention_seconds=60),
                send("done"),
                send("stale"),
                send("fresh", retention_seconds=3600),
                fetch("done"),
                act("complete", "done"),
                advance(70),
                {"op": "supervise", "name": Q},
            ],
        ),
    ]


def _dead_letters() -> list[Scenario]:
    dead_lettered = [
        queue(DLQ, retry_limit=4, expire_in_seconds=30),
        queue(retry_limit=0, dead_letter=DLQ),
        send("a", data={"payload": 1}, singleton_key="k"),
        fetch(),
        act("fail", "a", output={"reason": "boom"}),
    ]
    return [
        Scenario(name="dead_letter_copy_takes_the_dlq_settings", ops=dead_lettered),
        Scenario(
            name="dead_letter_per_job_override",
            ops=[
                queue(DLQ),
                queue("other"),
                queue(retry_limit=0),
                send("a", dead_letter=DLQ),
                fetch(),
                act("fail", "a"),
            ],
        ),
        Scenario(
            name="redrive_back_to_the_source_queue",
            ops=[*dead_lettered, {"op": "redrive", "name": DLQ}],
        ),
        Scenario(
            name="redrive_to_a_destination",
            ops=[
                queue("dest"),
                *dead_lettered,
                {"op": "redrive", "name": DLQ, "options": {"destination": "dest"}},
            ],
        ),
    ]


def _slots() -> list[Scenario]:
    return [
        Scenario(
            name="throttle_one_per_slot_per_key",
            ops=[
                queue(),
                {"op": "send_throttled", "name": Q, "ref": "a", "data": {"n": 1}, "seconds": 3600},
                {"op": "send_throttled", "name": Q, "ref": "b", "data": {"n": 2}, "seconds": 3600},
                {
                    "op": "send_throttled",
                    "name": Q,
                    "ref": "c",
                    "data": {"n": 3},
                    "seconds": 3600,
                    "key": "k",
                },
            ],
        ),
        Scenario(
            name="throttle_slot_freed_by_cancel_kept_by_complete",
            ops=[
                queue(),
                send("a", singleton_seconds=3600),
                act("cancel", "a"),
                send("b", singleton_seconds=3600),
                fetch(),
                act("complete", "b"),
                send("c", singleton_seconds=3600),
            ],
        ),
        Scenario(
            name="debounce_moves_to_the_next_slot_once",
            ignore=("start_after_offset",),
            ops=[
                queue(),
                {"op": "send_debounced", "name": Q, "ref": "a", "data": {"n": 1}, "seconds": 3600},
                {"op": "send_debounced", "name": Q, "ref": "b", "data": {"n": 2}, "seconds": 3600},
                {"op": "send_debounced", "name": Q, "ref": "c", "data": {"n": 3}, "seconds": 3600},
            ],
        ),
    ]


def _inserts_and_events() -> list[Scenario]:
    return [
        Scenario(
            name="insert_bulk_with_options",
            ops=[
                queue(),
                {
                    "op": "insert",
                    "name": Q,
                    "return_id": True,
                    "jobs": [
                        {"ref": "a", "data": {"n": 1}},
                        {"ref": "b", "data": {"n": 2}, "priority": 4, "retry_limit": 7, "singleton_key": "k"},
                        {"ref": "c", "data": {"n": 3}, "id": FIXED_ID, "expire_in_seconds": 30},
                        {"ref": "d", "data": {"n": 4}, "retry_delay": 5, "retry_backoff": True},
                    ],
                },
                fetch(batch_size=4),
            ],
        ),
        Scenario(
            name="insert_skips_policy_conflicts",
            ops=[
                queue(policy="short"),
                {
                    "op": "insert",
                    "name": Q,
                    "jobs": [
                        {"data": {"n": 1}, "singleton_key": "k"},
                        {"data": {"n": 2}, "singleton_key": "j"},
                    ],
                },
                {"op": "insert", "name": Q, "jobs": [{"data": {"n": 3}, "singleton_key": "k"}]},
            ],
        ),
        Scenario(
            name="publish_to_subscribed_queues",
            ops=[
                queue("a"),
                queue("b"),
                queue("c"),
                {"op": "subscribe", "event": "evt", "name": "a"},
                {"op": "subscribe", "event": "evt", "name": "b"},
                {"op": "publish", "event": "evt", "data": {"n": 1}, "options": {"priority": 2}},
                {"op": "unsubscribe", "event": "evt", "name": "b"},
                {"op": "publish", "event": "evt", "data": {"n": 2}},
            ],
        ),
    ]


def _workers() -> list[Scenario]:
    return [
        Scenario(
            name="work_handler_result_completes_with_output",
            ops=[queue(), send("a"), {"op": "work", "name": Q, "output": {"ok": 1}}],
        ),
        Scenario(
            name="work_handler_scalar_result_is_wrapped",
            ops=[queue(), send("a"), {"op": "work", "name": Q, "output": 5}],
        ),
        Scenario(
            name="work_handler_error_fails_with_serialised_error",
            output_shape_only=True,
            ops=[
                queue(retry_limit=0),
                send("a"),
                {"op": "work", "name": Q, "behavior": "throw", "message": "nope"},
            ],
        ),
    ]


def _more() -> list[Scenario]:
    return [
        Scenario(
            name="insert_start_after_interval_string",
            ops=[
                queue(),
                {"op": "insert", "name": Q, "jobs": [{"data": {"n": 1}, "start_after": "2 minutes"}]},
                fetch(),
            ],
        ),
        Scenario(
            name="insert_start_after_timestamp_string",
            # An absolute start: its offset from created_on depends on when each run happened.
            ignore=("start_after_offset",),
            ops=[
                queue(),
                {
                    "op": "insert",
                    "name": Q,
                    "jobs": [{"data": {"n": 2}, "start_after": "2000-01-01T00:00:00Z"}],
                },
                {
                    "op": "insert",
                    "name": Q,
                    "jobs": [{"data": {"n": 3}, "start_after": "2999-01-01T00:00:00Z"}],
                },
                fetch(batch_size=2),
            ],
        ),
        Scenario(
            name="update_queue_changes_new_jobs_only",
            ops=[
                queue(retry_limit=1),
                send("before"),
                {
                    "op": "update_queue",
                    "name": Q,
                    "options": {"retry_limit": 6, "retry_delay": 9, "expire_in_seconds": 77},
                },
                send("after"),
            ],
        ),
        Scenario(
            name="update_queue_cannot_change_policy",
            ops=[
                queue(),
                {"op": "update_queue", "name": Q, "options": {"policy": "short"}, "expect_error": True},
                send("a"),
                send("b"),
            ],
        ),
        Scenario(
            name="send_to_unknown_queue_is_an_error",
            ops=[queue(), {**send("a", name="missing"), "expect_error": True}, send("b")],
        ),
        Scenario(
            name="expiry_dead_letters_when_exhausted",
            ops=[
                queue(DLQ),
                queue(retry_limit=0, dead_letter=DLQ, expire_in_seconds=5),
                send("a"),
                fetch(),
                advance(10),
                {"op": "supervise", "name": Q},
            ],
        ),
        Scenario(
            name="heartbeat_timeout_retries_with_delay",
            ops=[
                queue(retry_limit=2, retry_delay=20),
                send("a", heartbeat_seconds=10),
                fetch(),
                act("touch", "a"),
                advance(25),
                {"op": "supervise", "name": Q},
            ],
        ),
        Scenario(
            name="redrive_respects_its_limit",
            ops=[
                queue(DLQ),
                queue(retry_limit=0, dead_letter=DLQ),
                send("a"),
                send("b"),
                send("c"),
                fetch(batch_size=3),
                # One fail per job: copies made by one statement share created_on, and redrive
                # takes the oldest first, so a tie would make the choice arbitrary on both sides.
                act("fail", "a"),
                act("fail", "b"),
                act("fail", "c"),
                {"op": "redrive", "name": DLQ, "options": {"limit": 2}},
            ],
        ),
        Scenario(
            name="work_handler_exceeding_expiry_is_failed",
            ops=[
                queue(retry_limit=0, expire_in_seconds=1),
                send("a"),
                {"op": "work", "name": Q, "behavior": "sleep", "sleep_ms": 2500, "timeout_ms": 6000},
                {"op": "sleep", "ms": 1500},
            ],
        ),
    ]


def _edges() -> list[Scenario]:
    def error(step: dict[str, Any]) -> dict[str, Any]:
        return {**step, "expect_error": True}

    return [
        Scenario(
            name="complete_and_fail_wrap_scalar_outputs",
            ops=[
                queue(retry_limit=0),
                send("a"),
                send("b"),
                fetch(batch_size=2),
                act("complete", "a", output=5),
                act("fail", "b", output="boom"),
            ],
        ),
        Scenario(
            name="send_start_after_iso_string_in_the_future",
            ignore=("start_after_offset",),
            ops=[queue(), send("a", start_after="2999-01-01T00:00:00Z"), fetch()],
        ),
        Scenario(
            name="send_singleton_next_slot_option",
            ignore=("start_after_offset",),
            ops=[
                queue(),
                send("a", singleton_seconds=3600, singleton_next_slot=True),
                send("b", singleton_seconds=3600, singleton_next_slot=True),
            ],
        ),
        Scenario(
            name="invalid_job_options_are_refused",
            ops=[
                queue(),
                error(send("x1", retry_delay_max=5)),
                error(send("x2", heartbeat_seconds=5)),
                error(send("x3", expire_in_seconds=86_401)),
                error(send("x4", retry_limit=-1)),
                error(send("x5", priority=1.5)),
                send("ok"),
            ],
        ),
        Scenario(
            name="insert_duplicate_ids_is_an_error",
            ops=[
                queue(),
                error({"op": "insert", "name": Q, "jobs": [{"id": FIXED_ID}, {"id": FIXED_ID}]}),
                send("a"),
            ],
        ),
        Scenario(
            name="stately_per_key_and_short_with_keys",
            ops=[
                queue(policy="stately"),
                queue("s", policy="short"),
                send("a", singleton_key="k1"),
                send("b", singleton_key="k2"),
                send("c", singleton_key="k1"),
                send("d", name="s", singleton_key="k1"),
                send("e", name="s", singleton_key="k2"),
                send("f", name="s", singleton_key="k1"),
                send("g", name="s"),
            ],
        ),
        Scenario(
            name="queue_validation_errors",
            ops=[
                error(queue("bad name!")),
                error(queue(policy="nope")),
                error(queue("selfish", dead_letter="selfish")),
                error(queue("beats", heartbeat_seconds=5)),
                error(queue("cap", retry_delay_max=5)),
                queue(),
                send("a"),
            ],
        ),
        Scenario(
            name="settling_finished_jobs_changes_nothing",
            ops=[
                queue(retry_limit=0),
                send("a"),
                send("b"),
                fetch(batch_size=2),
                act("complete", "a"),
                act("fail", "b"),
                act("fail", "a"),
                act("complete", "b"),
                act("cancel", "a", "b"),
            ],
        ),
        Scenario(
            name="resume_only_cancelled_and_retry_only_failed",
            ops=[
                queue(),
                send("a"),
                act("resume", "a"),
                act("retry", "a"),
                fetch(),
                act("cancel", "a"),
                act("retry", "a"),
                act("resume", "a"),
            ],
        ),
        Scenario(
            name="delete_queue_removes_its_jobs",
            ops=[
                queue("gone"),
                queue(),
                send("a", name="gone"),
                send("b"),
                {"op": "delete_queue", "name": "gone"},
            ],
        ),
        Scenario(
            name="key_strict_fifo_retry_keeps_the_key_head",
            ops=[
                queue(policy="key_strict_fifo", retry_limit=1),
                send("a", singleton_key="k"),
                send("b", singleton_key="k"),
                fetch(batch_size=2),
                act("fail", "a"),
                fetch(batch_size=2),
                act("complete", "a"),
                fetch(batch_size=2),
            ],
        ),
    ]


METADATA_FIELDS = [
    "name",
    "data",
    "state",
    "priority",
    "retry_limit",
    "retry_count",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "singleton_key",
    "expire_in_seconds",
    "heartbeat_seconds",
    "dead_letter",
    "policy",
    "output",
]


def _api_shapes() -> list[Scenario]:
    return [
        Scenario(
            name="fetch_with_metadata_returns_the_same_fields",
            ops=[
                queue(DLQ),
                queue(retry_limit=3, retry_delay=4, retry_backoff=True, retry_delay_max=40, dead_letter=DLQ),
                send("a", priority=2, singleton_key="k", heartbeat_seconds=20, expire_in_seconds=50),
                {**fetch(include_metadata=True), "fields": METADATA_FIELDS},
            ],
        ),
        Scenario(
            name="fetch_without_metadata_returns_the_worker_fields",
            ops=[
                queue(),
                send("a", expire_in_seconds=50, heartbeat_seconds=20),
                {**fetch(), "fields": ["name", "data", "expire_in_seconds", "heartbeat_seconds"]},
            ],
        ),
        Scenario(
            name="stop_fails_jobs_still_held_by_a_worker",
            ops=[
                queue(retry_limit=1),
                send("a"),
                {"op": "stop_while_active", "name": Q, "sleep_ms": 2500, "timeout_ms": 1000},
            ],
        ),
        Scenario(
            name="schedule_rows_keep_zone_key_and_send_options",
            ops=[
                queue(),
                {
                    "op": "schedule",
                    "name": Q,
                    "cron": "*/5 * * * *",
                    "data": {"n": 1},
                    "options": {"tz": "Europe/Paris", "key": "k1", "retry_limit": 3, "priority": 2},
                },
                {"op": "schedule", "name": Q, "cron": "0 3 * * *", "data": None},
                send("a"),
            ],
        ),
    ]


SCENARIOS: list[Scenario] = [
    *_sends(),
    *_policies(),
    *_failures(),
    *_supervision(),
    *_dead_letters(),
    *_slots(),
    *_inserts_and_events(),
    *_workers(),
    *_more(),
    *_edges(),
    *_api_shapes(),
]
