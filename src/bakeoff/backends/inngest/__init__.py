"""The inngest arm (being built)."""
