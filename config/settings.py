"""WeTrials Auth settings: one module, read from the environment (see README, "Configuration")."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=not DEBUG) or "insecure-development-key-only-for-DJANGO_DEBUG=1"
# Previous secret keys, while a rotation settles (README, "Rotating the secret key"): they
# still open sessions, reset links and the signing keys' encryption.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_ratelimit",
    # oauth2_provider must come before oauth_apps, whose admin subclasses DOT's.
    "oauth2_provider",
    "accounts",
    "oauth_apps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.OAuthRequestLogMiddleware",
    "core.middleware.RequireHttpsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oauth_apps.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.PageSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL via psycopg 3 as DATABASE_URL names it; the embedded SQLite file only
# by default in development, so a production start that forgot it fails instead of serving
# from an empty local file.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "The environment variable DATABASE_URL is required when DJANGO_DEBUG=0, e.g. "
            "postgres://user:password@host:5432/wetrials (an SQLite file only if named: sqlite:////path/db.sqlite3)."
        )
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts, so concurrent token requests queue for
    # it instead of failing with "database is locked" half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
else:
    # Persistent connections with a liveness check: a new connection per request costs more
    # than the whole token exchange.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Client secrets only: they are random 48-byte strings, so a fast salted hash is enough.
    "oauth_apps.oauth2.hashers.ClientSecretHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves the app and admin static files straight from their folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bodies at the OAuth endpoints are a handful of short parameters.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

# --- Transport security -------------------------------------------------------------
OAUTH_REQUIRE_HTTPS = env_bool("OAUTH_REQUIRE_HTTPS", True)
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = OAUTH_REQUIRE_HTTPS
CSRF_COOKIE_SECURE = OAUTH_REQUIRE_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 31536000 if OAUTH_REQUIRE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = OAUTH_REQUIRE_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
# Not no-referrer: under it, browsers post forms with `Origin: null`, which the CSRF check
# must refuse. same-origin sends no Referer to any other site.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [
    # Plain-HTTP requests are refused (RequireHttpsMiddleware) rather than redirected: a
    # redirect would come after the credentials had already crossed the wire.
    "security.W008",
    # HSTS preloading commits the whole domain to HTTPS for good: the operator's decision.
    "security.W021",
    # django-ratelimit lists only django-redis; Django's own RedisCache increments atomically too.
    "django_ratelimit.W001",
]
if not REDIS_URL:
    # In-process counters are right for one process (make run, the tests). Several
    # instances need REDIS_URL: the oauth_apps.W001 deploy check says so instead.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- OAuth ------------------------------------------------------------------------------
OAUTH_ISSUER = env_str("OAUTH_ISSUER", "http://127.0.0.1:8000" if DEBUG else None, required=not DEBUG)
_issuer = urlsplit(OAUTH_ISSUER)
if _issuer.scheme not in ("http", "https") or not _issuer.netloc or _issuer.query or _issuer.fragment:
    raise ImproperlyConfigured(f"OAUTH_ISSUER={OAUTH_ISSUER!r} must be an http(s) URL without query or fragment.")
if OAUTH_ISSUER.endswith("/"):
    raise ImproperlyConfigured(f"OAUTH_ISSUER={OAUTH_ISSUER!r} must not end with a slash.")
OAUTH_AUDIENCE = env_str("OAUTH_AUDIENCE", "wetrials-api")
OAUTH_ACCESS_TOKEN_LIFETIME = env_int("OAUTH_ACCESS_TOKEN_LIFETIME", 3600, minimum=60)
OAUTH_REFRESH_TOKEN_LIFETIME = env_int("OAUTH_REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600, minimum=60)
# How long a server instance may keep signing with a key after another one rotated it.
OAUTH_SIGNING_KEY_REFRESH_SECONDS = 10
# How long a server instance may go on with the scopes it knows after another one changed them.
OAUTH_SCOPE_REFRESH_SECONDS = 10
# The token path's statements as SQL compiled once by the ORM (core/rows.py); 0 runs each as
# the ORM call it stands for, which gives the same results with more Python per statement.
OAUTH_PRECOMPILED_STATEMENTS = env_bool("OAUTH_PRECOMPILED_STATEMENTS", True)
# Each process keeps the scopes staff allow each client while the client row is unchanged
# (oauth_apps/scopes.py); False reads them from the database on every request (the
# benchmark's unoptimised baseline).
OAUTH_CLIENT_SCOPES_PER_PROCESS = True

# Rate limits (core.ratelimits), in django-ratelimit's syntax: fixed windows.
OAUTH_RATE_AUTHORIZE = env_rate("OAUTH_RATE_AUTHORIZE", "20/m")
OAUTH_RATE_TOKEN = env_rate("OAUTH_RATE_TOKEN", "60/m")
OAUTH_RATE_USERINFO = env_rate("OAUTH_RATE_USERINFO", "120/m")
OAUTH_RATE_REVOKE = env_rate("OAUTH_RATE_REVOKE", "60/m")
# Resource servers introspect on behalf of many users: a higher ceiling per client.
OAUTH_RATE_INTROSPECT = env_rate("OAUTH_RATE_INTROSPECT", "600/m")
OAUTH_RATE_CLIENT_AUTH_FAILURES = env_rate("OAUTH_RATE_CLIENT_AUTH_FAILURES", "20/m")
OAUTH_RATE_SIGN_IN = env_rate("OAUTH_RATE_SIGN_IN", "10/m")

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth_apps.Application"
OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "oauth_apps.oauth2.server.Server",
    "OAUTH2_VALIDATOR_CLASS": "oauth_apps.oauth2.oauth2_validators.OAuth2Validator",
    "OAUTH2_BACKEND_CLASS": "oauth_apps.oauth2.oauth2_backends.OAuthLibCore",
    "SCOPES_BACKEND_CLASS": "oauth_apps.scopes.DatabaseScopes",
    "ACCESS_TOKEN_GENERATOR": "oauth_apps.oauth2.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauth_apps.oauth2.tokens.generate_refresh_token",
    "CLIENT_ID_GENERATOR_CLASS": "oauth_apps.oauth2.generators.ClientIdGenerator",
    "CLIENT_SECRET_HASHER": "client_sha256",
    "APPLICATION_ADMIN_CLASS": "oauth_apps.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "oauth_apps.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "oauth_apps.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "oauth_apps.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "oauth_apps.admin.IDTokenAdmin",
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_LIFETIME,
    "ID_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH_REFRESH_TOKEN_LIFETIME,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": OAUTH_ISSUER,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "REQUEST_APPROVAL_PROMPT": "force",
    # Only DOT's fallback: each client's own registered schemes decide where it may redirect.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # Tokens are stored as SHA-256 checksums only: a database leak reveals no usable token.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}

# The API side: bearer access tokens verified by the resource-server kit
# (oauth_apps/contrib/rest_framework) and checked against this server's token rows.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth_apps.views.authentication.RevocationCheckedAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "oauth_apps.contrib.rest_framework.exceptions.bearer_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "ISSUER": OAUTH_ISSUER,
    "AUDIENCE": OAUTH_AUDIENCE,
    # Unset here: this server verifies with its own key ring. Other services set their JWKS URL.
    "JWK_URL": None,
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": None,
    "JTI_CLAIM": "jti",
    "AUTH_TOKEN_CLASSES": ("oauth_apps.contrib.rest_framework.authentication.AccessToken",),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # DOT logs token-request details at DEBUG; keep them out of production logs.
        "oauth2_provider": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
    },
}
