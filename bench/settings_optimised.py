"""The project as shipped (config.settings), with bench/work_floor.py's view mounted beside it."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.work_floor"
