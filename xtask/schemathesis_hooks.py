# Schemathesis hooks for `cargo xtask test` (loaded by xtask/src/schemathesis.rs with include_str!
# and written to target/mit-tools/schemathesis-hooks/mit_hooks.py).
#
# Signs a fresh user up whenever Schemathesis needs a token, so an operation that ends a session
# (logout, password change, account deletion) cannot starve the ones after it. Review operations
# need a completed meeting with a review, which random ids never name: their valid ids are pointed
# at one the hook sets up (its host's token with them), so the fuzzing reaches the review's rules
# instead of stopping at 404.

import json, os, re, uuid, urllib.request
import schemathesis

BASE = os.environ["MIT_BASE_URL"]
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request) as response:
        return json.load(response)

def register():
    body = {"email": f"fuzz-{uuid.uuid4().hex}@example.com", "password": "correct horse battery staple", "name": "Fuzz"}
    return call("POST", "/api/v1/auth/register", body)["tokens"]["access_token"]

ISSUED = set()

@schemathesis.auth(refresh_interval=20)
class FreshUser:
    def get(self, case, ctx):
        token = register()
        ISSUED.add(f"Bearer {token}")
        return token

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"

REVIEW = {}

def review_fixture():
    if not REVIEW:
        token = register()
        meeting = call("POST", "/api/v1/meetings", {"title": "Fuzzed review"}, token)["id"]
        call("POST", f"/api/v1/meetings/{meeting}/start", None, token)
        call("POST", f"/api/v1/meetings/{meeting}/end", None, token)
        review = call("POST", f"/api/v1/meetings/{meeting}/review", {"content": "one\ntwo\nthree"}, token)
        call("POST", f"/api/v1/meetings/{meeting}/review/submit", None, token)
        line = review["lines"][0]["id"]
        comment = call("POST", f"/api/v1/meetings/{meeting}/review/lines/{line}/comments", {"content": "c"}, token)["id"]
        suggestion = call("POST", f"/api/v1/meetings/{meeting}/review/lines/{line}/suggestions", {"suggested_text": "1"}, token)["id"]
        REVIEW.update(token=token, meeting_id=meeting, line_id=line, comment_id=comment, suggestion_id=suggestion)
    return REVIEW

@schemathesis.hook
def before_call(context, case, kwargs):
    if "/review" not in case.operation.path or not case.path_parameters:
        return
    params = case.path_parameters
    # Only valid ids are replaced: a malformed one is a negative case that must stay malformed.
    if not all(UUID.match(str(params.get(name, ""))) for name in params):
        return
    # A token Schemathesis made up itself tests authentication: that case stays as it is.
    if not (case.headers and case.headers.get("Authorization") in ISSUED):
        return
    fixture = review_fixture()
    for name in params:
        params[name] = fixture.get(name, params[name])
    case.headers["Authorization"] = f"Bearer {fixture['token']}"
