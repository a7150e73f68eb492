"""apigateway:invoke keeps to the engine's HTTP rules: no redirects followed, the egress policy on hosts that
come from a definition or an input (a real HTTP server on loopback; the engine's own aiohttp client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from express_engine import Engine
from express_engine.integrations import EgressPolicy, install
from express_engine.integrations.aws_config import AwsSettings
from express_engine.jsonutil import dumps

pytestmark = pytest.mark.asyncio(loop_scope="session")

INVOKE = "arn:aws:states:::apigateway:invoke"


@pytest.fixture
async def api_port() -> AsyncIterator[int]:
    """A plain HTTP API: ``/prod/start`` redirects to ``/secret``, which answers 200 with a secret."""
    async def start(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/secret")

    async def secret(request: web.Request) -> web.StreamResponse:
        return web.json_response({"secret": "s3cr3t"})

    app = web.Application()
    app.router.add_get("/prod/start", start)
    app.router.add_get("/secret", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def _invoke(endpoint: str, env: dict[str, str], egress: EgressPolicy | None = None) -> dict[str, Any]:
    engine = Engine()
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": INVOKE, "End": True,
        "Parameters": {"ApiEndpoint": endpoint, "Method": "GET", "Stage": "prod", "Path": "start"}}}}
    async with install(engine.handlers, aws=AwsSettings.from_env({"EXPRESS_ENGINE_AWS": "apigateway=real", **env}),
                       egress=egress):
        record = engine.create_state_machine("call", definition)
        return await engine.start_sync_execution(record, dumps({}))


async def test_a_redirect_is_not_followed(api_port: int) -> None:
    response = await _invoke("abc123.execute-api.us-east-1.amazonaws.com",
                             {"AWS_ENDPOINT_URL_EXECUTE_API": f"http://127.0.0.1:{api_port}"})
    assert (response["status"], response.get("error")) == ("FAILED", "APIGateway.302"), response
    assert "s3cr3t" not in dumps(response)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_restricted_egress_refuses_internal_hosts_from_the_definition(api_port: int, host: str) -> None:
    response = await _invoke(f"{host}:{api_port}", {}, EgressPolicy("restricted"))
    assert (response["status"], response["error"]) == ("FAILED", "APIGateway.ClientConnectorError"), response
    assert "was refused" in response["cause"] and "internal (loopback)" in response["cause"], response
    # An address the operator allows is reached (over https: this plain HTTP server cannot answer it).
    allowed = await _invoke(f"{host}:{api_port}", {}, EgressPolicy("restricted", allow=("127.0.0.0/8", "localhost")))
    assert (allowed["status"], allowed["error"]) == ("FAILED", "APIGateway.ClientConnectorSSLError"), allowed
