"""Setup effort counted from the source: logical lines, functions, configuration keys; rendering."""

from __future__ import annotations

import pytest

from bakeoff.analysis.sections import sections_html, sections_markdown
from bakeoff.analysis.setup_effort import (
    ARM_SETUP,
    configuration_keys,
    function_lines,
    logical_lines,
    module_lines,
)

SAMPLE = '''"""Module docstring
over two lines."""

# a comment
import os


def f(x):
    """Docstring."""
    # why
    y = (x +
         1)  # trailing comment
    return y
'''


def test_logical_lines_skip_blanks_comments_and_docstrings() -> None:
    # import os; def f(x):; y = (x +; 1); return y
    assert logical_lines(SAMPLE) == 5


def test_function_lines_count_one_function_with_its_nested_helpers() -> None:
    assert function_lines("bakeoff.analysis.setup_effort:logical_lines") == 8
    with pytest.raises(LookupError, match="no 'nope'"):
        function_lines("bakeoff.analysis.setup_effort:nope")


def test_every_arm_has_an_adapter_an_import_function_and_options() -> None:
    for spec in ARM_SETUP.values():
        assert module_lines(spec.adapter_module) > 50
        assert function_lines(spec.import_function) > 3
        keys = configuration_keys(spec.backend_class)
        assert "import_settings" in keys and "engine" not in keys and "self" not in keys


def test_the_sections_render_in_markdown_and_html() -> None:
    body = {
        "setup_effort": {
            "arms": [
                {
                    "arm": "pgboss",
                    "adapter_lines": 204,
                    "import_function_lines": 13,
                    "processes": ["PostgreSQL", "worker"],
                    "configuration_keys": ["a", "b"],
                    "database_objects": {"tables": 13, "indexes": 34, "functions": 6, "triggers": 0},
                    "seconds_to_first_job": 0.5,
                }
            ],
            "notes": ["counted"],
        },
        "consistency": {"error": "not run"},
    }
    markdown = sections_markdown(body)
    assert "## Setup effort, measured" in markdown
    assert "| pgboss | 204 | 13 | PostgreSQL; worker | 2 | 13 | 34 | 6 | 0 | 0.5 |" in markdown
    assert "Not measured: not run" in markdown
    assert "<h2>Setup effort, measured</h2>" in sections_html(body)
    assert sections_markdown({}) == "" and sections_html({}) == ""
