"""The routing shim (being built)."""
