"""``python -m sgaudit``: the same command line as the ``sgaudit`` script."""

from sgaudit.cli import main

main()
