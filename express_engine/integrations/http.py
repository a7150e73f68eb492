"""``arn:aws:states:::http:invoke``: call an HTTP(S) API with AWS's HTTP Task request/response shape.

Parameters (as on AWS): ``ApiEndpoint`` and ``Method`` (required), ``Headers``, ``QueryParameters``,
``RequestBody``, ``Transform {RequestBodyEncoding: NONE|URL_ENCODED, RequestEncodingOptions
{ArrayFormat: BRACKETS|COMMAS|INDICES|REPEAT}}`` and ``Authentication {ConnectionArn}`` (optional here;
a known connection adds its configured headers). The result is ``{Headers: {name: [values]},
ResponseBody, StatusCode, StatusText}`` with a JSON body parsed. A non-2xx answer fails the task with
``States.Http.StatusCode.<code>`` (cause: that same object as JSON text); a connection failure or the
60-second HTTP timeout fails it with ``States.Http.Socket``, and so does an address the engine's
:class:`~express_engine.integrations.egress.EgressPolicy` refuses. Redirects are not followed (a 3xx
answer fails the task as ``States.Http.StatusCode.3xx``). Like AWS, every request carries
``User-Agent: Amazon|StepFunctions|HttpInvoke|<region>`` and ``Range: bytes=0-262144``, which the
definition's ``Headers`` cannot override.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from .. import errors
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, JsonError, dumps, loads
from ..runtime.engine import DEFAULT_REGION
from .egress import EgressDenied, EgressPolicy, policy_resolver

HTTP_INVOKE = "arn:aws:states:::http:invoke"
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})
_ARRAY_FORMATS = frozenset({"BRACKETS", "COMMAS", "INDICES", "REPEAT"})
#: Headers AWS sets on every HTTP Task request, whatever the definition says (lower-case names).
_FIXED_HEADERS = frozenset({"user-agent", "range"})


def _runtime(message: str) -> errors.CustomError:
    return errors.CustomError("States.Runtime", message)


def _scalar(value: Json) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return value if isinstance(value, str) else dumps(value)


def url_encode(body: Mapping[str, Json], array_format: str = "REPEAT") -> str:
    """Form-encode a JSON object the way the HTTP Task's ``URL_ENCODED`` transform does."""
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Json) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                add(f"{key}[{k}]", v)
        elif isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(_scalar(v) for v in value)))
            else:
                for i, v in enumerate(value):
                    name = {"BRACKETS": f"{key}[]", "INDICES": f"{key}[{i}]"}.get(array_format, key)
                    add(name, v)
        else:
            pairs.append((key, _scalar(value)))

    for k, v in body.items():
        add(str(k), v)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _header_list(pairs: Any) -> str:
    # As AWS shows them (its TestState docs, "Example 3"): "[Name: value, Name: value]", commas in values as is.
    return "[" + ", ".join(f"{k}: {v}" for k, v in pairs) + "]"


def _traced_request(resp: Any, method: str, body: bytes | None) -> dict[str, str]:
    """TestState's TRACE view of the request as sent (InspectionDataRequest)."""
    info = resp.request_info
    return {"protocol": info.url.scheme, "method": method, "url": str(info.url),
            "headers": _header_list(info.headers.items()), "body": (body or b"").decode("utf-8", "replace")}


def _traced_response(resp: Any, raw: bytes) -> dict[str, str]:
    """TestState's TRACE view of the response as received (InspectionDataResponse).

    Like AWS: the protocol is the URL's scheme, the status code a string, header names in lower case.
    """
    headers = _header_list((k.lower(), v) for k, v in resp.headers.items())
    return {"protocol": resp.request_info.url.scheme, "statusCode": str(resp.status),
            "statusMessage": resp.reason or "", "headers": headers, "body": raw.decode("utf-8", "replace")}


class HttpInvoke:
    """The http:invoke handler; owns one pooled aiohttp session (created on first use)."""

    def __init__(self, *, timeout: float = 60.0, connections: Mapping[str, Mapping[str, str]] | None = None,
                 region: str = DEFAULT_REGION, policy: EgressPolicy | None = None) -> None:
        self.timeout = timeout
        self.policy = policy or EgressPolicy()
        self.connections = dict(connections or {})
        self.fixed_headers = {"User-Agent": f"Amazon|StepFunctions|HttpInvoke|{region}",
                              "Range": f"bytes=0-{MAX_PAYLOAD_BYTES}"}
        self._session: Any = None

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            connector = None if self.policy.unrestricted else aiohttp.TCPConnector(
                resolver=policy_resolver(self.policy))
            self._session = aiohttp.ClientSession(auto_decompress=True, connector=connector)
        return self._session

    def _request(self, params: Json) -> tuple[str, str, dict[str, str], list[tuple[str, str]], bytes | None]:
        if not isinstance(params, Mapping):
            raise _runtime("The http:invoke parameters must be a JSON object")
        url, method = params.get("ApiEndpoint"), params.get("Method")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _runtime("The http:invoke integration needs an ApiEndpoint starting with http:// or https://")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise _runtime(f"The http:invoke Method must be one of {', '.join(sorted(_METHODS))}")
        headers: dict[str, str] = {}
        auth = params.get("Authentication")
        if isinstance(auth, Mapping) and auth.get("ConnectionArn") in self.connections:
            headers.update(self.connections[auth["ConnectionArn"]])
        raw_headers = params.get("Headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise _runtime("The http:invoke Headers must be a JSON object")
        headers.update({str(k): _scalar(v) for k, v in raw_headers.items() if str(k).lower() not in _FIXED_HEADERS})
        headers.update(self.fixed_headers)
        query: list[tuple[str, str]] = []
        raw_query = params.get("QueryParameters") or {}
        if not isinstance(raw_query, Mapping):
            raise _runtime("The http:invoke QueryParameters must be a JSON object")
        for k, v in raw_query.items():
            for item in v if isinstance(v, list) else [v]:
                query.append((str(k), _scalar(item)))
        body: bytes | None = None
        if "RequestBody" in params:
            raw_body = params["RequestBody"]
            transform = params.get("Transform") or {}
            encoding = transform.get("RequestBodyEncoding", "NONE") if isinstance(transform, Mapping) else "NONE"
            if encoding == "URL_ENCODED":
                if not isinstance(raw_body, Mapping):
                    raise _runtime("RequestBodyEncoding URL_ENCODED needs a JSON object RequestBody")
                options = transform.get("RequestEncodingOptions") or {}
                array_format = options.get("ArrayFormat", "REPEAT") if isinstance(options, Mapping) else "REPEAT"
                if array_format not in _ARRAY_FORMATS:
                    raise _runtime(f"ArrayFormat must be one of {', '.join(sorted(_ARRAY_FORMATS))}")
                body = url_encode(raw_body, array_format).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            elif isinstance(raw_body, str):
                body = raw_body.encode()
                headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            else:
                body = dumps(raw_body).encode()
                headers.setdefault("Content-Type", "application/json")
        return method.upper(), url, headers, query, body

    async def __call__(self, params: Json, context: Any) -> Json:
        """Make the call; return AWS's response object or raise the HTTP Task's errors."""
        import aiohttp

        method, url, headers, query, body = self._request(params)
        if not self.policy.unrestricted:
            # (names are checked by the resolver, on the addresses connected to; literal addresses never reach it)
            host = urlsplit(url).hostname or ""
            reason = self.policy.refusal(host)
            if reason is not None:
                raise errors.HttpSocket(f"The HTTP request to {url} was refused: {reason}")
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else self.timeout
        timeout = max(0.001, min(self.timeout, remaining))
        session = self._get_session()
        try:
            async with asyncio.timeout(timeout):
                async with session.request(method, url, headers=headers, params=query or None, data=body,
                                           allow_redirects=False) as resp:
                    raw = await resp.read()
                    status, reason = resp.status, resp.reason or ""
                    resp_headers: dict[str, list[str]] = {}
                    for k, v in resp.headers.items():
                        resp_headers.setdefault(k.lower(), []).append(v)
                    content_type = resp.headers.get("Content-Type", "")
                    inspection = getattr(context, "inspection", None)
                    if inspection is not None:
                        inspection.exchange(_traced_request(resp, method, body), _traced_response(resp, raw))
        except TimeoutError:
            raise errors.HttpSocket(f"The HTTP request to {url} timed out after {timeout:g} seconds") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, EgressDenied):
                raise errors.HttpSocket(f"The HTTP request to {url} was refused: {exc.os_error}") from None
            raise errors.HttpSocket(f"The HTTP request to {url} failed: {exc}") from None
        except aiohttp.ClientError as exc:
            raise errors.HttpSocket(f"The HTTP request to {url} failed: {exc}") from None
        result = http_result(raw, content_type, status, reason, resp_headers)
        if not 200 <= status < 300:
            raise errors.CustomError(f"States.Http.StatusCode.{status}", dumps(result))
        return result


def http_result(raw: bytes, content_type: str, status: int, reason: str,
                headers: dict[str, list[str]]) -> dict[str, Json]:
    """An HTTP answer as Step Functions' HTTP Task and API Gateway integration return it: ``Headers``,
    ``ResponseBody`` (parsed when the content type says JSON and it parses, else the text), ``StatusCode``,
    ``StatusText``."""
    text = raw.decode("utf-8", "replace")
    response_body: Json = text
    if "json" in content_type.lower() and raw:
        try:
            response_body = loads(raw)
        except JsonError:
            response_body = text
    try:
        status_text = reason or HTTPStatus(status).phrase
    except ValueError:
        status_text = reason
    return {"Headers": headers, "ResponseBody": response_body, "StatusCode": status, "StatusText": status_text}
