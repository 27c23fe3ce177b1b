from app.serving.rate_limit import ClientBudget


def test_a_client_gets_its_burst_then_a_token_per_interval():
    budget = ClientBudget(per_minute=6, burst=2)
    assert [budget.allow("a", now=0.0) for _ in range(3)] == [True, True, False]
    assert budget.allow("b", now=0.0)  # another client has its own bucket
    assert not budget.allow("a", now=5.0)  # a token takes 10 s
    assert budget.allow("a", now=10.5)
    assert budget.retry_after() == 10


def test_the_client_table_is_bounded():
    budget = ClientBudget(per_minute=1, burst=1, max_clients=100)
    for n in range(1000):
        assert budget.allow(f"client-{n}", now=0.0)
    assert len(budget._buckets) == 100
    assert not budget.allow("client-999", now=0.0)  # recent clients are remembered
