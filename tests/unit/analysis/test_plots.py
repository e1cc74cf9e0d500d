"""The report's figures on trials shorter than a day (the demo's) and on a single stored report."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bakeoff.analysis import TrialSpec, compare, synthetic_trial
from bakeoff.analysis.plots import history
from bakeoff.metrics import columns as col


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """pyplot keeps every figure until closed; later tests would warn about too many."""
    yield
    plt.close("all")


@pytest.mark.parametrize("minutes", [40, 600])
def test_a_trial_shorter_than_a_day_is_plotted_per_hour_on_its_own_time_range(minutes: int) -> None:
    """Issue 19: the daily plot of a trial of minutes spanned years and AutoDateLocator warned."""
    df = synthetic_trial(TrialSpec(days=1, jobs_per_day=600), rng=np.random.default_rng(8))
    df = df[df[col.SUBMITTED_AT] < pd.Timestamp(TrialSpec().start) + pd.Timedelta(minutes=minutes)]
    c = compare(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any matplotlib warning fails the test
        figures = c.plots()
        for figure in figures.values():
            figure.canvas.draw()
    axes = figures["daily"].axes
    low, high = (mdates.num2date(x) for x in axes[1].get_xlim())
    assert high - low < pd.Timedelta(hours=12)
    assert axes[0].get_title().startswith("Hourly failure rate")


def test_a_trial_of_weeks_is_still_plotted_per_day() -> None:
    c = compare(synthetic_trial(TrialSpec(days=10, jobs_per_day=30), rng=np.random.default_rng(9)))
    axes = c.plots()["daily"].axes
    low, high = (mdates.num2date(x) for x in axes[1].get_xlim())
    assert pd.Timedelta(days=9) <= high - low <= pd.Timedelta(days=12)
    assert axes[0].get_title().startswith("Daily failure rate")


def test_the_history_of_one_stored_report_spans_an_hour_not_years() -> None:
    body = {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "comparisons": [{"arm": "pgboss", "metric": "failure_rate", "ci_sequential": [-0.1, 0.1]}],
        "failure_margin": 0.02,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = history([body])
        figure.canvas.draw()
    low, high = (mdates.num2date(x) for x in figure.axes[0].get_xlim())
    assert high - low <= pd.Timedelta(hours=1)
