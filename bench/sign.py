"""sign.py: the headers of one signed symtaskd request, for wrk (-H) to send again and again.

Usage: python3 sign.py METHOD PATH CID SECRET_B64

Prints Authorization, Sym-date and Customer-ID header lines, signed as the symtask client
and tests/integration/harness.c h_request sign (core/auth.h: HMAC-SHA256 with the decoded
secret over "METHOD\\nContent-MD5\\nSECRET_B64\\nSym-date\\nCID\\n[BODY\\n]PATH\\n[QUERY\\n]"),
for a request without a body. The date is now: symtaskd accepts the request for about 5
minutes, and more than once only with auth.replay_protection = false.
"""
import base64
import datetime
import hashlib
import hmac
import sys

method, path, cid, secret = sys.argv[1:5]
path, _, query = path.partition("?")
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S;0")
parts = [method, "", secret, date, cid, path] + ([query] if query else [])
sts = "".join(p + "\n" for p in parts)
sig = base64.b64encode(
    hmac.new(base64.b64decode(secret), sts.encode(), hashlib.sha256).digest()).decode()
print("Authorization: " + sig)
print("Sym-date: " + date)
print("Customer-ID: " + cid)
