"""The consistency pass: re-fetch a sample of completed imports through the control arm's code path.

For each sampled completed import not yet checked, the URL is fetched and extracted again the way
the control arm (legacy) does it (``fetch_page`` then ``extract_article``, the legacy handler's own
phases) but nothing is saved and no trial job is made, so it is neither an exposure nor the
control's load. The digest of the extracted document (``content_sha256``, as saved documents are
digested) is compared with the one the arm saved, and the check is recorded in
``bakeoff.consistency_checks`` with the control's text, for the side-by-side view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from bakeoff.analysis.consistency import QUERIES, sample_rate
from bakeoff.workload.models import ImportSettings

__all__ = ["ConsistencyPass", "run_consistency_pass"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ConsistencyPass:
    experiment: str
    sample_rate: float
    checked: int
    identical: int
    refetch_failed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "sample_rate": self.sample_rate,
            "checked": self.checked,
            "identical": self.identical,
            "refetch_failed": self.refetch_failed,
        }


def _control_extraction(url: str, settings: ImportSettings) -> tuple[str, str]:
    """(digest, text) of ``url`` fetched and extracted as the control arm does it."""
    from bakeoff.workload.extract import extract_article
    from bakeoff.workload.fetch import fetch_page
    from bakeoff.workload.store import content_sha256

    article = extract_article(fetch_page(url, settings=settings))
    return content_sha256(article), article.text


def run_consistency_pass(
    engine: Engine,
    experiment: str,
    import_settings: ImportSettings,
    *,
    rate: float | None = None,
    limit: int = 200,
) -> ConsistencyPass:
    """Check up to ``limit`` sampled completed imports of ``experiment`` not checked yet."""
    chosen = sample_rate(engine, experiment) if rate is None else rate
    params = {"experiment": experiment, "sample_rate": chosen, "limit": limit}
    with engine.connect() as conn:
        due = conn.execute(text(QUERIES["consistency_due"]), params).all()
    identical = failed = 0
    for job in due:
        record: dict[str, Any] = {
            "experiment": experiment,
            "trial_job_id": job.trial_job_id,
            "arm": job.arm,
            "url": job.url,
            "arm_sha256": job.arm_sha256,
            "identical": None,
            "control_sha256": None,
            "control_text": None,
            "error": None,
        }
        try:
            digest, control_text = _control_extraction(job.url, import_settings)
        except Exception as exc:  # the page is down or broken now: neither identical nor different
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            failed += 1
        else:
            same = digest == job.arm_sha256
            record.update(identical=same, control_sha256=digest, control_text=control_text)
            identical += same
            if not same:
                logger.warning("consistency: %s imported %s differently from the control", job.arm, job.url)
        with engine.begin() as conn:
            conn.execute(text(QUERIES["consistency_insert"]), record)
    result = ConsistencyPass(
        experiment=experiment,
        sample_rate=chosen,
        checked=len(due) - failed,
        identical=identical,
        refetch_failed=failed,
    )
    logger.info("consistency pass: %s", result.to_dict())
    return result
