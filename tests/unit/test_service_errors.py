"""AWS error bodies: the serialised form sync clients tell from a response without parsing it."""

from __future__ import annotations

import orjson
import pytest

from express_engine import service_errors as api


@pytest.mark.parametrize("error", [api.InternalFailure("boom"), api.ValidationException("bad"),
                                   api.ServiceUnavailable("")], ids=lambda e: type(e).__name__)
def test_a_serialised_error_body_starts_with_the_prefix_clients_test_for(error: api.ServiceError) -> None:
    body = orjson.dumps(error.to_dict())
    assert body.startswith(api.ERROR_BODY_PREFIX)
    assert orjson.loads(body) == {"__type": error.code, "message": error.message}
