"""core/seams.py holds every private API of a dependency the project uses: an upgrade fails
here, in one place, until someone has re-read the seams against the new version."""

from __future__ import annotations

import ast
from importlib import metadata
from pathlib import Path

import pytest
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db.models import Model
from django_ratelimit import core as ratelimit_core
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator
from oauthlib.common import Request

from core import seams
from oauth_apps.oauth2.oauth2_validators import OAuth2Validator

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("accounts", "config", "core", "oauth_apps")
# Underscored names that Django documents as public (the Model _meta API, Model._state,
# Manager._default_manager) or that are public by the namedtuple protocol (_replace).
DOCUMENTED_UNDERSCORED = frozenset({"_meta", "_state", "_default_manager", "_replace"})


@pytest.mark.parametrize(("distribution", "version"), sorted(seams.WRITTEN_AGAINST.items()))
def test_the_installed_dependency_is_the_one_the_seams_were_written_against(distribution, version):
    assert metadata.version(distribution) == version, (
        f"{distribution} changed: re-read core/seams.py against it, then update WRITTEN_AGAINST"
    )


def test_every_private_name_the_seams_use_still_exists():
    assert callable(Model._prepare_related_fields_for_save)
    assert callable(OAuthLibCore._extract_params)
    assert callable(DotOAuth2Validator._load_application)
    for name in ("_split_rate", "_get_window", "_make_cache_key", "EXPIRATION_FUDGE", "time"):
        assert hasattr(ratelimit_core, name), name
    assert callable(RedisCacheClient._get_connection_pool)
    assert "_cache" in vars(RedisCache)


def test_dots_checks_load_the_client_through_the_hook(public_app):
    loaded = []

    class Recording(OAuth2Validator):
        def client_load(self, client_id, request):
            loaded.append(client_id)
            return super().client_load(client_id, request)

    request = Request("https://auth.example/v1/oauth/authorize")

    assert Recording().validate_client_id(public_app.client_id, request)
    assert loaded == [public_app.client_id]


def test_the_token_request_reaches_oauthlib_through_dots_parameters(rf):
    from oauth_apps.oauth2.oauth2_backends import OAuthLibCore as ProjectCore
    from oauth_apps.oauth2.oauth2_validators import OAuth2Validator as ProjectValidator
    from oauth_apps.oauth2.server import Server
    from oauth_apps.oauth2.token_request import STATE_HEADER, TokenRequest

    state = TokenRequest(rate_limit=None, client_address="192.0.2.1")
    request = rf.post("/v1/oauth/token", {"grant_type": "client_credentials"})
    _uri, method, body, headers = ProjectCore(Server(ProjectValidator()))._oauthlib_params(request, state)

    assert (method, body) == ("POST", "grant_type=client_credentials")
    assert headers[STATE_HEADER] is state


def _defined_here(tree: ast.Module) -> set[str]:
    """The private members a module defines itself: methods, class attributes and
    attributes it assigns on self."""
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
    return defined


def _private_attributes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _defined_here(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in DOCUMENTED_UNDERSCORED:
            continue
        if name in own:
            continue  # the module's own private members, on self or on its own classes
        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{name}")
    return found


def test_no_module_but_the_seams_reaches_into_a_dependency():
    modules = [
        path
        for package in PROJECT_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path != ROOT / "core" / "seams.py"
    ]

    found = [hit for path in modules for hit in _private_attributes(path)]

    assert found == [], "private API outside core/seams.py:\n" + "\n".join(found)
