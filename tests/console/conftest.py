"""The console's fixtures: a real Valkey, a worker logging to a Redis stream, the API with the console on a free
loopback port, and a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_backends import embedded_valkey, redis_backend

from express_engine import Engine
from express_engine.console import with_console
from express_engine.testing import StepFunctionsServer

STREAM = "ee:console-logs"
ROLE = "arn:aws:iam::123456789012:role/console-tests"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/console:*"
LOGGING = {"level": "ALL", "includeExecutionData": True,
           "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}]}
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def declined(event: Any, context: Any) -> Any:
    """A payment Lambda that always fails."""
    raise RuntimeError("card declined")


_calls: dict[str, int] = {}


def flaky(event: Any, context: Any) -> Any:
    """A Lambda whose first call for each order fails (a provider outage), then succeeds."""
    key = str(event.get("order"))
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] == 1:
        raise TimeoutError("provider timed out")
    return {"charged": True}


@pytest.fixture(scope="session")
def console_valkey() -> Iterator[str]:
    with embedded_valkey() as url:
        yield url


@pytest.fixture(scope="session")
def console_server(console_valkey: str) -> Iterator[StepFunctionsServer]:
    """The API + console over Redis, a worker whose default log sink is the Redis stream ``STREAM``."""
    engine = Engine(time_scale=0)
    engine.register_handler("Charge", declined)
    engine.register_handler("Flaky", flaky)

    backend = redis_backend(console_valkey, engine.handlers, log_sink=f"redis:{STREAM}")
    with StepFunctionsServer(engine=engine, backend=backend,
                             wrap=with_console(default_sink=f"redis:{STREAM}")) as srv:
        yield srv


@pytest.fixture(scope="session")
def console_sfn(console_server: StepFunctionsServer) -> Any:
    return console_server.boto3_client()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: ``$CONSOLE_ARTIFACTS`` or a temporary directory (printed in the test output)."""
    path = Path(os.environ.get("CONSOLE_ARTIFACTS") or Path(tempfile.gettempdir()) / "express-engine-console")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (never a downloaded browser); skipped only when Debian's chromium is absent."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ee-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1500,950", f"--user-data-dir={profile}",
                 # nothing but the engine on loopback resolves: the page must work offline
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


CREDENTIALS = {"AKIACONSOLE": "console-secret"}


@pytest.fixture(scope="session")
def console_auth_server() -> Iterator[StepFunctionsServer]:
    """The API + console with SigV4 required (in-process engine)."""
    with StepFunctionsServer(engine=Engine(time_scale=0), auth=CREDENTIALS, wrap=with_console()) as srv:
        yield srv
