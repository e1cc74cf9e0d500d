"""Analysis: the nightly comparison report (being built)."""
