"""`python -m uncertain` runs the command line."""

from uncertain.cli import main

main()
