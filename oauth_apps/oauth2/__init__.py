"""The oauthlib adapter: the classes and functions oauthlib and DOT call, named in DOT's
settings (config/settings.py, OAUTH2_PROVIDER), under DOT's module names where they play its roles."""
