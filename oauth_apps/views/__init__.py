"""The authorization server's HTTP endpoints (oauth_apps/urls.py and config/urls.py mount them)."""
