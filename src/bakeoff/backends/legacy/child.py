"""The legacy worker process: ``python -m bakeoff.backends.legacy.child JOB_ID [--crash-after-complete]``.

A processor spawns one of these per job (the current system's process-per-job model). It reads its
job from ``legacy.job`` (database URL from ``BAKEOFF_DATABASE_URL``; the article import's allowlist
from ``BAKEOFF_IMPORT_ALLOW_HOSTS`` and its limits from ``BAKEOFF_LEGACY_IMPORT_LIMITS``), runs the
handler inside the shared metrics instrumentation, and reports over the line protocol of
:mod:`bakeoff.backends.legacy.stdout_protocol`. It never writes ``legacy.job`` itself: the parent does,
from what it parses.

Exit codes: 0 after success, 1 after a failure -- and 1 after success too under
``--crash-after-complete``, which reproduces the seed's "workers crash after completing (exit 1)".

The process per job stays (it is the pain point under test), but the child imports only what it
uses: its three statements (read the job, record the attempt, save the document) run on one plain
psycopg connection with the same named SQL the SQLAlchemy code runs, so it never imports SQLAlchemy.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from bakeoff.backends.legacy.handlers import HandlerContext, SaveDocument, parse_handler
from bakeoff.backends.legacy.models import LegacyJob
from bakeoff.backends.legacy.stdout_protocol import MessageKind, format_message

if TYPE_CHECKING:
    import psycopg

    from bakeoff.metrics.attempts import AttemptRecorder

__all__ = ["EXIT_CRASHED_AFTER_COMPLETE", "EXIT_FAILED", "EXIT_OK", "execute_job", "main"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CRASHED_AFTER_COMPLETE = 1
EXIT_USAGE = 2
CONNECT_TIMEOUT_SECONDS = 10

Emit = Callable[[str], None]


def execute_job(
    job: LegacyJob,
    *,
    attempts: AttemptRecorder,
    save_document: SaveDocument,
    emit_stdout: Emit,
    emit_stderr: Emit,
) -> bool:
    """Run ``job``'s handler as one measured attempt and report it over the protocol; True on success.

    ``attempts`` records the attempt (the shared :func:`~bakeoff.metrics.attempts.record_attempt`,
    as every arm's instrumentation does) and ``save_document`` is the import's save phase.
    """
    from bakeoff.metrics.attempts import record_attempt

    started = {"job_id": str(job.id), "pid": os.getpid(), "attempt": job.attempt}
    emit_stdout(format_message(MessageKind.STARTED, started))
    context = HandlerContext(job=job, save_document=save_document, emit_stdout=emit_stdout)
    try:
        handler = parse_handler(job.handler)
        emit_stdout(format_message(MessageKind.PROGRESS, {"message": f"running {job.handler}"}))
        with record_attempt(attempts, job.trial_job_id, job.attempt, whole_process=True):
            result = handler(context)
    except Exception as exc:
        _report_error(exc, emit_stderr)
        return False
    emit_stdout(format_message(MessageKind.RESULT, result))
    return True


def _report_error(exc: Exception, emit_stderr: Emit) -> None:
    from bakeoff.metrics.attempts import error_kind_of

    for line in traceback.format_exception(exc)[-6:]:
        for part in line.rstrip().splitlines():
            emit_stderr(part)
    body = {
        "error_kind": error_kind_of(exc),
        "message": f"{type(exc).__name__}: {exc}",
        "retryable": getattr(exc, "retryable", True) is not False,
    }
    emit_stderr(format_message(MessageKind.ERROR, body))


def _print_to(stream: TextIO) -> Emit:
    def emit(line: str) -> None:
        # One flushed line at a time, so the parent sees progress while the job runs.
        stream.write(line + "\n")
        stream.flush()

    return emit


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bakeoff.backends.legacy.child")
    parser.add_argument("job_id", type=UUID, help="the legacy.job id to run")
    parser.add_argument(
        "--crash-after-complete", action="store_true", help="exit 1 after success (the seed's pain point)"
    )
    return parser.parse_args(argv)


def _connect(url: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="bakeoff"
    )


def _get_job(conn: psycopg.Connection[Any], job_id: UUID) -> LegacyJob | None:
    from psycopg.rows import dict_row

    from bakeoff.db.sql import load_queries, pyformat

    sql = pyformat(load_queries("bakeoff.backends.legacy")["get_job"])
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(sql, {"id": job_id}).fetchone()
    return LegacyJob.from_mapping(row) if row is not None else None


def main(argv: list[str] | None = None) -> int:
    """Run one job; returns the process exit code."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    url = os.environ.get("BAKEOFF_DATABASE_URL")
    emit_stderr = _print_to(sys.stderr)
    if not url:
        emit_stderr("BAKEOFF_DATABASE_URL is not set; the child cannot read its job")
        return EXIT_USAGE
    # httpx imports its command-line client when click/rich/pygments are installed (they are, for
    # bakeoff's own CLI); a failed import makes it skip that, and the child never runs it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from functools import partial

    from bakeoff.metrics.attempts import PsycopgAttempts
    from bakeoff.workload.store import save_document_psycopg

    conn = _connect(url)
    try:
        job = _get_job(conn, args.job_id)
        if job is None:
            emit_stderr(f"no legacy job {args.job_id}")
            return EXIT_FAILED
        ok = execute_job(
            job,
            attempts=PsycopgAttempts(conn),
            save_document=partial(save_document_psycopg, conn),
            emit_stdout=_print_to(sys.stdout),
            emit_stderr=emit_stderr,
        )
    finally:
        conn.close()
    if not ok:
        return EXIT_FAILED
    return EXIT_CRASHED_AFTER_COMPLETE if args.crash_after_complete else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
