"""The project as shipped but for its token-path statements, each run as the QuerySet, save()
or delete() it stands for (core/rows.py), to measure what compiling them once buys
(bench/work_floor.py's view mounted, as in bench/settings_optimised.py)."""

from config.settings import *  # noqa: F403

OAUTH_PRECOMPILED_STATEMENTS = False
ROOT_URLCONF = "bench.work_floor"
