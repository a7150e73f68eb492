"""The AWS-compatible HTTP API (AWS JSON 1.0): boto3, the AWS CLI and other SDKs work unchanged.

:func:`serve_http` serves a Registry and a Client (the Redis-backed ones from
:mod:`express_engine.service`, or the in-process :mod:`express_engine.api.local` stand-ins);
:func:`create_app` returns the bare ASGI application for any ASGI server.
"""

from .server import DEFAULT_MAX_BODY, DEFAULT_PORT, ApiApp, create_app, serve_http

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PORT", "ApiApp", "create_app", "serve_http"]
