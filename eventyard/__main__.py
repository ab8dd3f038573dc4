"""``python -m eventyard`` runs the command line."""

from eventyard.cli import main

main()
