"""Rate limits keep working, in memory, while Redis is down; a POST never fails because of it."""
from __future__ import annotations

import pytest

from amanah.extensions import limiter
from tests.conftest import make_app, one_rolled_back_transaction
from tests.factories.giving import make_campaign
from tests.factories.redis_server import running_redis


@pytest.fixture
def redis_limited_app(databases, tmp_path):
    with running_redis() as redis:
        app = make_app(databases.url, tmp_path / "instance", RATELIMIT_ENABLED=True,
                       RATELIMIT_STORAGE_URI=redis.url,
                       ARGON2_PARAMETERS={"time_cost": 1, "memory_cost": 8, "parallelism": 1})
        with one_rolled_back_transaction(app):
            yield app, redis
    limiter._storage_dead = False  # the extension object outlives this app: start others clean


def _login(client, n: int):
    return client.post("/account/login", data={"email": f"x{n}@example.test", "password": "x"})


def test_login_is_limited_in_memory_while_redis_is_down(redis_limited_app):
    app, redis = redis_limited_app
    client = app.test_client()
    for n in range(3):
        assert _login(client, n).status_code == 422  # counted in Redis
    from redis import Redis
    assert Redis.from_url(redis.url).dbsize() > 0
    redis.stop()
    answers = [_login(client, n).status_code for n in range(3, 14)]
    assert 500 not in answers
    # ten attempts a minute: the fallback counts afresh, so the eleventh attempt since the outage
    # is the first one refused
    assert answers[:10] == [422] * 10 and answers[10] == 429
    assert client.get("/account/login").status_code == 200


def test_the_donate_form_is_limited_in_memory_while_redis_is_down(redis_limited_app):
    app, redis = redis_limited_app
    with app.app_context():
        public_id = make_campaign().public_id
    redis.stop()
    client = app.test_client()
    # an empty form: refused as invalid (422), counted all the same, never a 500
    answers = [client.post(f"/campaigns/{public_id}/give", data={}).status_code for _ in range(31)]
    assert answers[:30] == [422] * 30 and answers[30] == 429
