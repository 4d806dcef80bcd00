"""Site-wide pieces that know nothing of OAuth's rules: health and error views, middleware,
rate limits, the cache backend, precompiled statements and the seams (docs/architecture.md)."""
