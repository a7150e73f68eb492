"""AWS Signature Version 4 verification for the HTTP API.

The expected signature is computed with botocore's own signer (:class:`botocore.auth.SigV4Auth`) over
the headers the client says it signed, so any SDK or the AWS CLI is accepted exactly when AWS would
accept it. The body is hashed too: an ``X-Amz-Content-SHA256`` that is not its SHA-256 (including
``UNSIGNED-PAYLOAD``, which only S3 accepts) fails like a wrong signature. Unknown access
keys get ``UnrecognizedClientException``; a wrong signature, a malformed ``Authorization`` header
or a request older than 15 minutes get ``InvalidSignatureException``.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from .. import service_errors as api

#: The service name in the credential scope of Step Functions requests.
SERVICE = "states"
#: ... of EventBridge (``AWSEvents.*``) and EventBridge Pipes (``/v1/pipes``) requests.
EVENTS_SERVICE = "events"
PIPES_SERVICE = "pipes"
#: How far the request time may be from ours, as AWS allows.
MAX_SKEW_SECONDS = 15 * 60
#: Environment variable with ``KEY:SECRET[,KEY:SECRET...]`` for :func:`credentials_from_env`.
CREDENTIALS_ENV = "EXPRESS_ENGINE_CREDENTIALS"

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9\-;]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_INVALID_TOKEN = "The security token included in the request is invalid."
_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
             "Secret Access Key and signing method. Consult the service documentation for details.")


def parse_credentials(specs: Iterable[str]) -> dict[str, str]:
    """``["KEY:SECRET", ...]`` -> ``{KEY: SECRET}``; raises ValueError for a malformed entry."""
    out: dict[str, str] = {}
    for spec in specs:
        for item in spec.split(","):
            key, sep, secret = item.strip().partition(":")
            if not item.strip():
                continue
            if not (sep and key and secret):
                raise ValueError(f"credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY, got {item.strip()!r}")
            out[key] = secret
    return out


def credentials_from_env() -> dict[str, str] | None:
    """Credentials from ``EXPRESS_ENGINE_CREDENTIALS`` (None when unset or empty)."""
    raw = os.environ.get(CREDENTIALS_ENV, "")
    return parse_credentials([raw]) or None if raw.strip() else None


class SigV4Verifier:
    """Checks requests against a fixed set of ``{access_key_id: secret_access_key}``."""

    def __init__(self, credentials: Mapping[str, str], *, max_skew: float = MAX_SKEW_SECONDS) -> None:
        # botocore is only needed when authentication is on.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        if not credentials:
            raise ValueError("SigV4Verifier needs at least one access key")
        self.credentials = dict(credentials)
        self.max_skew = max_skew
        self._signer, self._request, self._credentials = SigV4Auth, AWSRequest, Credentials

    def verify(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
               now: datetime | None = None, service: str = SERVICE) -> str:
        """Raise the AWS error for a request that is not correctly signed; return the access key id.

        ``headers`` maps lower-case names to values (repeated headers already joined with ``,``);
        ``service`` is the one the request is for, which its credential scope must name (as AWS checks).
        """
        authorization = headers.get("authorization")
        if not authorization:
            raise api.UnrecognizedClientException(
                "Missing Authentication Token: the request must be signed with AWS Signature Version 4")
        m = _AUTH_RE.match(authorization)
        if m is None:
            raise api.InvalidSignatureException(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
                "(AWS4-HMAC-SHA256).")
        secret = self.credentials.get(m["key"])
        if secret is None:
            raise api.UnrecognizedClientException(_INVALID_TOKEN)
        if m["service"] != service:
            raise api.InvalidSignatureException(f"Credential should be scoped to correct service: '{service}'.")
        signed = m["headers"].split(";")
        if "host" not in signed:
            raise api.InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        amz_date = headers.get("x-amz-date", "")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise api.InvalidSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.") from None
        if amz_date[:8] != m["date"]:
            raise api.InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{m['date']}' != '{amz_date[:8]}', from '{amz_date}'.")
        now = now or datetime.now(UTC)
        if abs((now - when).total_seconds()) > self.max_skew:
            raise api.InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than "
                f"{datetime.fromtimestamp(now.timestamp() - self.max_skew, UTC).strftime('%Y%m%dT%H%M%SZ')}")
        missing = [h for h in signed if h not in headers]
        if missing:
            raise api.InvalidSignatureException(_MISMATCH)
        url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
        request = self._request(method=method, url=url, headers={h: headers[h] for h in signed}, data=body)
        request.context["timestamp"] = amz_date
        signer = self._signer(self._credentials(m["key"], secret), service, m["region"])
        # botocore's canonical request takes X-Amz-Content-SHA256 at its word: check it against the body
        # (over plain HTTP botocore always hashes it). UNSIGNED-PAYLOAD is S3's alone; here it never matches.
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and not hmac.compare_digest(claimed, signer.payload(request)):
            raise api.InvalidSignatureException(_MISMATCH)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, m["signature"]):
            raise api.InvalidSignatureException(_MISMATCH)
        return m["key"]
