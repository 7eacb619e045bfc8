"""``python -m streams.cli`` runs the ``aiops`` command line."""

from streams.cli import main

main()
