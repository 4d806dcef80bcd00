"""Drills and tools. The Python ones are modules of this package, run from the project root
as `python -m scripts.<name>` and imported as `scripts.<name>` (bench/scale.py uses
scripts.local_server); the shell ones are run with bash."""
