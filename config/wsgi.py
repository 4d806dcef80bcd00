from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from oauth_apps.keys import signing_keys_reencrypt_at_start  # noqa: E402  (needs the apps loaded above)

try:
    # A secret key that opens no signing key stops the server here, with a message naming
    # DJANGO_SECRET_KEY_FALLBACKS, rather than answering 500 to every token request.
    signing_keys_reencrypt_at_start()
finally:
    # gunicorn may fork its workers after this import: none may share this connection.
    connections.close_all()
