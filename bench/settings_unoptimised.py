"""The project with its token-path optimisations switched off, for the benchmark's baseline:
client secrets hashed with Django's PBKDF2 and a new database connection per request
(bench/work_floor.py's view mounted, as in bench/settings_optimised.py)."""

from config.settings import *  # noqa: F403
from config.settings import DATABASES, OAUTH2_PROVIDER

OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "CLIENT_SECRET_HASHER": "pbkdf2_sha256"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
ROOT_URLCONF = "bench.work_floor"
