"""The legacy arm (being built)."""
