"""One pooled aiobotocore client per AWS service, created on first use and closed with the engine.

The SDK's own retries are off (one attempt per call): a Task's ``Retry`` field is the retry policy, as
on Step Functions, so a throttled or failed call fails the attempt at once and Retry/Catch decide.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from .aws_config import AwsSettings

#: Connections kept open per service client (aiohttp pool size).
POOL_CONNECTIONS = 64
CONNECT_TIMEOUT = 10.0
#: Long enough for any Express task (five minutes at most): the Task's own timeout cuts a call short.
READ_TIMEOUT = 300.0


class AwsClients:
    """Lazily created aiobotocore clients sharing one session."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._session: Any = None
        self._models: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._stack = AsyncExitStack()

    def session(self) -> Any:
        """The aiobotocore session the clients share."""
        if self._session is None:
            from aiobotocore.session import get_session

            self._session = get_session()
        return self._session

    def models(self) -> Any:
        """A plain botocore session, for service-model questions (synchronous, no I/O but model files)."""
        if self._models is None:
            import botocore.session

            self._models = botocore.session.get_session()
        return self._models

    def available_services(self) -> list[str]:
        """Every service botocore has a model for."""
        return list(self.models().get_available_services())

    async def client(self, service: str) -> Any:
        """The client for a botocore service name."""
        client = self._clients.get(service)
        if client is not None:
            return client
        async with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = await self._stack.enter_async_context(self._create(service))
                self._clients[service] = client
        return client

    def _create(self, service: str) -> Any:
        from aiobotocore.config import AioConfig

        config = AioConfig(retries={"total_max_attempts": 1, "mode": "standard"},
                           connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                           max_pool_connections=POOL_CONNECTIONS, user_agent_extra="express_engine")
        kwargs: dict[str, Any] = {"config": config}
        if self.settings.region:
            kwargs["region_name"] = self.settings.region
        endpoint = self.settings.endpoint(service)
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        if self.settings.credentials is not None:
            key, secret, token = self.settings.credentials
            kwargs.update(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)
        session = self.session()
        if not self.settings.region and session.get_config_variable("region") is None:
            kwargs["region_name"] = "us-east-1"  # the engine's default region, as for its own ARNs
        return session.create_client(service, **kwargs)

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        self._clients.clear()
        await self._stack.aclose()
        self._stack = AsyncExitStack()
