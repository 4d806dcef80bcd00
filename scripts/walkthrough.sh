#!/usr/bin/env bash
# The README's walk-through: Authorization Code + PKCE with curl against `make run`.
# Needs curl and python3. BASE defaults to the `make run` address.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}
CLIENT_ID=wetrials-demo
REDIRECT_URI=http://127.0.0.1:8765/callback
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT

# 1. PKCE: a random code_verifier and its S256 code_challenge.
VERIFIER=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
CHALLENGE=$(python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$VERIFIER")
echo "code_verifier:  $VERIFIER"
echo "code_challenge: $CHALLENGE"

# 2. The user signs in (what the browser does): get a CSRF cookie, post the login form.
csrf() { awk '$6 == "csrftoken" {print $7}' "$JAR"; }
curl -s -c "$JAR" -b "$JAR" -o /dev/null "$BASE/accounts/login/"
curl -s -c "$JAR" -b "$JAR" -o /dev/null -w 'sign-in: HTTP %{http_code}\n' \
    --data-urlencode "csrfmiddlewaretoken=$(csrf)" -d username=demo -d password=demo-password-123 \
    "$BASE/accounts/login/"

# 3. The app sends the user to the authorize endpoint; the consent page lists the scopes.
AUTHORIZE="$BASE/v1/oauth/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=$REDIRECT_URI&scope=openid%20read:profile&state=xyz&code_challenge=$CHALLENGE&code_challenge_method=S256"
curl -s -c "$JAR" -b "$JAR" "$AUTHORIZE" | grep -E '<h1>|<li>' | sed -e 's/<[^>]*>//g' -e 's/^ */consent page: /'

# 4. The user clicks "Allow access": the server redirects to the app with code, state and iss.
LOCATION=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' \
    --data-urlencode "csrfmiddlewaretoken=$(csrf)" -d allow=Allow -d response_type=code \
    -d client_id=$CLIENT_ID --data-urlencode redirect_uri=$REDIRECT_URI --data-urlencode "scope=openid read:profile" \
    -d state=xyz -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 "$BASE/v1/oauth/authorize")
echo "redirect: $LOCATION"
CODE=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["code"][0])' "$LOCATION")

# 5. The app exchanges the code (with the verifier) for tokens.
TOKENS=$(curl -s "$BASE/v1/oauth/token" -d grant_type=authorization_code -d code="$CODE" \
    --data-urlencode redirect_uri=$REDIRECT_URI -d client_id=$CLIENT_ID -d code_verifier="$VERIFIER")
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
echo "token response: $(python3 -c 'import json, sys; t = json.loads(sys.argv[1]); print({k: (v[:24] + "...") if isinstance(v, str) and len(v) > 40 else v for k, v in t.items()})' "$TOKENS")"
ACCESS_TOKEN=$(field "$TOKENS" access_token)
REFRESH_TOKEN=$(field "$TOKENS" refresh_token)

# 6. The access token is a JWT: its header and claims (verify it with the keys at /v1/oauth/jwks).
python3 -c '
import base64, json, sys
header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in sys.argv[1].split(".")[:2])
print("access token header:", header)
print("access token claims:", claims)' "$ACCESS_TOKEN"

# 7. Refresh: a new pair; the old refresh token is now spent.
REFRESHED=$(curl -s "$BASE/v1/oauth/token" -d grant_type=refresh_token -d refresh_token="$REFRESH_TOKEN" -d client_id=$CLIENT_ID)
echo "refreshed: new refresh token $(field "$REFRESHED" refresh_token | cut -c1-12)..., scope $(field "$REFRESHED" scope)"

# 8. Replaying the spent refresh token fails and revokes the whole family.
echo "replay: $(curl -s "$BASE/v1/oauth/token" -d grant_type=refresh_token -d refresh_token="$REFRESH_TOKEN" -d client_id=$CLIENT_ID)"
echo "newest after replay: $(curl -s "$BASE/v1/oauth/token" -d grant_type=refresh_token -d refresh_token="$(field "$REFRESHED" refresh_token)" -d client_id=$CLIENT_ID)"
