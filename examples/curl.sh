#!/usr/bin/env bash
# A token with curl and jq. jq reads the credentials from the environment and curl the body from
# stdin: the secret is in no command line (`ps` shows those). On failure, print the codes only.
set -euo pipefail
url="${TOKEN_SERVICE_URL:-http://localhost:4000/graphql}"
answer="$(
  jq -n '{
    query: "mutation($id: String!, $secret: String!) { accessToken(clientId: $id, clientSecret: $secret) { accessToken expiresIn } }",
    variables: { id: $ENV.ASPOSE_CLIENT_ID, secret: $ENV.ASPOSE_CLIENT_SECRET }
  }' | curl -sS "$url" -H 'content-type: application/json' --data-binary @-
)"
if jq -e '.data.accessToken' >/dev/null <<<"$answer"; then
  echo "Bearer token valid for $(jq -r '.data.accessToken.expiresIn' <<<"$answer") s"
  # token="$(jq -r '.data.accessToken.accessToken' <<<"$answer")"
else
  echo "token refused: $(jq -r '[.errors[]?.extensions.code] | join(", ")' <<<"$answer")" >&2
  exit 1
fi
