"""``arn:aws:states:::apigateway:invoke``: call an API Gateway endpoint (AWS page "Create API Gateway REST APIs
with Step Functions").

Parameters: ``ApiEndpoint`` (``<api id>.execute-api.<region>.amazonaws.com``) and ``Method`` (required),
``Stage``, ``Path``, ``Headers`` and ``QueryParameters`` (name -> list of values), ``RequestBody``,
``AllowNullValues`` and ``AuthType`` (``NO_AUTH``, the default, ``IAM_ROLE`` - SigV4 with the engine's
credentials - or ``RESOURCE_POLICY``, signed too). The result is ``{Headers: {name: [values]},
ResponseBody, StatusCode, StatusText}`` with a JSON body parsed. A non-2xx answer fails the task with
``APIGateway.<status>`` and the response body as cause, a failure without one with ``APIGateway.<exception>``.
Headers AWS does not permit (``X-Forwarded*``, ``X-Amz*``, ``Authorization``, ``Host``, ...) fail the task.

The engine's ``AWS_ENDPOINT_URL_EXECUTE_API`` replaces ``https://<ApiEndpoint>`` (for a local stand-in of
the API; ``AWS_ENDPOINT_URL`` does not apply here). Otherwise the host comes from the definition or the
execution input, so the engine's egress policy applies to it as to ``http:invoke`` (a refused address fails
the task with ``APIGateway.ClientConnectorError``). Redirects are never followed: a 3xx answer is a non-2xx one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from .. import errors
from ..jsonutil import Json, dumps
from .aws_clients import AwsClients
from .aws_errors import task_failed
from .aws_sdk import TaskHandler, guard
from .egress import EgressDenied, EgressPolicy, policy_resolver
from .http import http_result

APIGATEWAY_INVOKE = "arn:aws:states:::apigateway:invoke"
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_AUTH_TYPES = frozenset({"NO_AUTH", "IAM_ROLE", "RESOURCE_POLICY"})
_FORBIDDEN_HEADERS = frozenset({"authorization", "connection", "content-md5", "expect", "host", "max-forwards",
                                "proxy-authenticate", "server", "te", "transfer-encoding", "trailer", "upgrade",
                                "via", "www-authenticate"})
_FORBIDDEN_PREFIXES = ("x-forwarded", "x-amz")


def _scalar(value: Json) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else dumps(value)


def _pairs(raw: Json, what: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise task_failed(f"The apigateway:invoke {what} must be a JSON object of lists of values")
    out = []
    for name, values in raw.items():
        for value in values if isinstance(values, list) else [values]:
            out.append((str(name), _scalar(value)))
    return out


class ApiGatewayInvoke:
    """The apigateway:invoke handler: one pooled aiohttp session, SigV4 through botocore's signer."""

    def __init__(self, clients: AwsClients, policy: EgressPolicy | None = None) -> None:
        self.clients = clients
        self.settings = clients.settings
        # (an endpoint the operator set is not checked: only hosts from definitions and inputs are)
        self.policy = None if policy is None or policy.unrestricted or self.settings.endpoints.get("executeapi") \
            else policy
        self._session: Any = None

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def handler(self) -> TaskHandler:
        """The Task handler."""
        return self.invoke

    async def _sign(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                    region: str) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        if self.settings.credentials is not None:
            key, secret, token = self.settings.credentials
            credentials = Credentials(key, secret, token)
        else:
            found = await self.clients.session().get_credentials()
            if found is None:
                raise task_failed("the apigateway:invoke call has no AWS credentials to sign with (AuthType "
                                  "IAM_ROLE): give the engine credentials")
            frozen = await found.get_frozen_credentials()
            credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    async def invoke(self, params: Json, context: Any) -> Json:
        """Make the call; return AWS's response object or raise ``APIGateway.*``."""
        import aiohttp

        guard(self.settings, "apigateway", "invoke")
        if not isinstance(params, Mapping):
            raise task_failed("The apigateway:invoke parameters must be a JSON object")
        host, method = params.get("ApiEndpoint"), params.get("Method")
        if not isinstance(host, str) or not host or "/" in host:
            raise task_failed("The apigateway:invoke integration needs an ApiEndpoint host name "
                              "(<api id>.execute-api.<region>.amazonaws.com)")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise task_failed(f"The apigateway:invoke Method must be one of {', '.join(sorted(_METHODS))}")
        auth = params.get("AuthType", "NO_AUTH")
        if auth not in _AUTH_TYPES:
            raise task_failed(f"The apigateway:invoke AuthType must be one of {', '.join(sorted(_AUTH_TYPES))}")
        segments = [str(params.get("Stage") or ""), str(params.get("Path") or "")]
        path = "/".join(quote(s.strip("/"), safe="/") for s in segments if s.strip("/"))
        base = self.settings.endpoints.get("executeapi") or f"https://{host}"
        query = _pairs(params.get("QueryParameters"), "QueryParameters")
        url = f"{base.rstrip('/')}/{path}"
        if query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        headers: dict[str, str] = {}
        for name, value in _pairs(params.get("Headers"), "Headers"):
            if name.lower() in _FORBIDDEN_HEADERS or name.lower().startswith(_FORBIDDEN_PREFIXES):
                raise task_failed(f"The header '{name}' is not permitted in an apigateway:invoke request")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        body: bytes | None = None
        if "RequestBody" in params and (params["RequestBody"] is not None or params.get("AllowNullValues")):
            raw = params["RequestBody"]
            body = raw.encode() if isinstance(raw, str) else dumps(raw).encode()
            headers.setdefault("Content-Type", "application/json")
        region = host.split(".")[2] if host.count(".") >= 4 else (self.settings.region or "us-east-1")
        refused = f"APIGateway.{aiohttp.ClientConnectorError.__name__}"
        if self.policy is not None:
            # (names are checked by the resolver, on the addresses connected to; literal addresses never reach it)
            reason = self.policy.refusal(urlsplit(url).hostname or "")
            if reason is not None:
                raise errors.CustomError(refused, f"The call to {url} was refused: {reason}")
        if auth != "NO_AUTH":
            headers = await self._sign(method.upper(), url, headers, body, region)
        if self._session is None or self._session.closed:
            connector = None if self.policy is None else aiohttp.TCPConnector(resolver=policy_resolver(self.policy))
            self._session = aiohttp.ClientSession(connector=connector)
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else 60.0
        try:
            async with asyncio.timeout(max(0.001, remaining)):
                async with self._session.request(method.upper(), url, headers=headers, data=body,
                                                 allow_redirects=False) as resp:
                    raw_body = await resp.read()
                    status, reason = resp.status, resp.reason or ""
                    out_headers: dict[str, list[str]] = {}
                    for k, v in resp.headers.items():
                        out_headers.setdefault(str(k), []).append(str(v))
                    content_type = resp.headers.get("Content-Type", "")
        except TimeoutError:
            raise errors.Timeout(None) from None
        except aiohttp.ClientError as exc:
            if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, EgressDenied):
                raise errors.CustomError(refused, f"The call to {url} was refused: {exc.os_error}") from None
            raise errors.CustomError(f"APIGateway.{type(exc).__name__}", f"The call to {url} failed: {exc}") from None
        result = http_result(raw_body, content_type, status, reason, out_headers)
        if not 200 <= status < 300:
            raise errors.CustomError(f"APIGateway.{status}", raw_body.decode("utf-8", "replace"))
        return result
