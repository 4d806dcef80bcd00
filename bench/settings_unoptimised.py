"""The project with its token-path optimisations switched off, for the benchmark's baseline:
client secrets hashed with Django's PBKDF2; a new database connection per request; the token
path's statements run by the plain ORM; each client's allowed scopes read on every request
(bench/work_floor.py's view mounted, as in bench/settings_optimised.py)."""

from config.settings import *  # noqa: F403
from config.settings import DATABASES, OAUTH2_PROVIDER

OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "CLIENT_SECRET_HASHER": "pbkdf2_sha256"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
OAUTH_PRECOMPILED_STATEMENTS = False
OAUTH_CLIENT_SCOPES_PER_PROCESS = False
ROOT_URLCONF = "bench.work_floor"
