"""``python -m bakeoff`` runs the CLI."""

from bakeoff.cli import main

main()
