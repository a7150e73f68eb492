# express-engine: Redis workers + the AWS-compatible HTTP API (`express-engine serve`) in one image.
#
#   docker build -t express-engine .
#   docker run -p 8083:8083 -e REDIS_URL=redis://redis:6379/0 \
#              -e EXPRESS_ENGINE_CREDENTIALS=AKIDEXAMPLE:wJalrXUtnFEMI express-engine
#
# Environment (all optional):
#   REDIS_URL                   Redis shared by every engine container; unset = an embedded server
#                               inside this container (a single-container trial, data in /home/engine)
#   EXPRESS_ENGINE_CREDENTIALS  KEY:SECRET[,KEY:SECRET...] accepted for SigV4-signed API requests; the
#                               API refuses to listen on 0.0.0.0 without credentials
#   WORKER_PROCESSES            worker processes (default: one per CPU the host has)
#   EXPRESS_ENGINE_ARGS         more `serve` options, e.g. "--handler Name=module:function --time-scale 0"
#                               (modules are imported from /app: mount or COPY your handlers there)
# See docs/deploy.md for a compose file and for scaling workers across machines.

FROM python:3.11.13-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/express-engine
COPY pyproject.toml README.md ./
COPY express_engine ./express_engine
# The import check fails the build, not the first request, when a server dependency is missing.
RUN /opt/express-engine/bin/pip install --no-cache-dir . \
    && /opt/express-engine/bin/python -c "import express_engine.api.server, express_engine.service.worker"


FROM python:3.11.13-slim-bookworm

ENV PATH=/opt/express-engine/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/engine \
        --shell /usr/sbin/nologin engine

COPY --from=build /opt/express-engine /opt/express-engine
WORKDIR /app
# The example handlers (examples.<name>.handlers), importable for a first try of --handler.
COPY examples ./examples

USER 10001:10001
EXPOSE 8083

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8083/health', timeout=4).status != 200)"]

# `exec` makes the engine PID 1, so `docker stop` (SIGTERM) lets running executions finish (--grace).
CMD ["sh", "-c", "exec express-engine serve --host 0.0.0.0 --port 8083 ${REDIS_URL:+--redis-url \"$REDIS_URL\"} ${WORKER_PROCESSES:+--processes \"$WORKER_PROCESSES\"} $EXPRESS_ENGINE_ARGS"]
