"""`python -m perf_toolkit` runs the command line."""

from .cli import main

main()
