"""One structured log line per OAuth request, and no credential in any log line."""

from __future__ import annotations

import json
import logging

from tests.conftest import PASSWORD
from tests.oauth import USERINFO_URL, AuthorizationRequest


def test_a_full_flow_logs_one_line_per_request_and_no_credential(oauth, public_app, confidential_app, caplog):
    application, secret = confidential_app
    caplog.set_level(logging.DEBUG)
    oauth.client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    tokens = oauth.exchange(request, code).json()
    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()
    oauth.bearer_get(USERINFO_URL, refreshed["access_token"])
    oauth.refresh(public_app.client_id, tokens["refresh_token"])  # a replay: an error line
    oauth.introspect(refreshed["access_token"], application.client_id, secret)
    oauth.revoke(refreshed["refresh_token"], public_app.client_id)

    lines = [record.getMessage() for record in caplog.records if record.name == "wetrials.requests"]
    entries = [json.loads(line) for line in lines]
    assert [entry["endpoint"] for entry in entries] == [
        "/v1/oauth/authorize",
        "/v1/oauth/authorize",
        "/v1/oauth/token",
        "/v1/oauth/token",
        "/v1/oauth/userinfo",
        "/v1/oauth/token",
        "/v1/oauth/introspect",
        "/v1/oauth/revoke",
    ]
    assert entries[2]["client_id"] == public_app.client_id and entries[2]["outcome"] == "ok"
    assert entries[4]["client_id"] == public_app.client_id
    assert entries[5]["outcome"] == "invalid_grant" and entries[5]["status"] == 400
    assert entries[6]["client_id"] == application.client_id
    assert all(isinstance(entry["duration_ms"], float) for entry in entries)

    credentials = [
        PASSWORD,
        secret,
        code,
        request.verifier,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
    ]
    everything_logged = "\n".join(f"{record.getMessage()} {record.args}" for record in caplog.records)
    for credential in credentials:
        assert credential not in everything_logged
