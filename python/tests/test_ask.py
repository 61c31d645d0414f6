"""db.ask: plain language answered by the built-in command model as one read-only SELECT."""

import pytest

import tensormap


def test_ask_runs_the_statement_the_model_wrote(loaded):
    db, _ = loaded
    text = "find all cubes within 200 units of center"
    plan = db.ask("scene", text, explain=True)
    assert plan.columns == ["statement", "probability", "outcome", "threshold", "model"]
    ((statement, probability, outcome, threshold, model),) = plan.fetchall()
    assert statement.startswith("SELECT ") and model == "built-in"
    assert 0.0 <= probability <= 1.0 and 0.0 <= threshold <= 1.0
    if outcome == "answer":
        # The rows are the statement's own.
        assert db.ask("scene", text).fetchall() == db.execute(statement).fetchall()
    else:
        with pytest.raises(tensormap.QueryError, match="Best guess"):
            db.ask("scene", text)


def test_ask_quotes_what_it_is_given(loaded):
    db, _ = loaded
    plan = db.ask("scene", "what's near the origin? it's 'quoted'", explain=True)
    assert plan.fetchall()[0][0].startswith("SELECT ")


def test_ask_errors_are_clear(loaded):
    db, _ = loaded
    with pytest.raises(tensormap.QueryError, match="empty"):
        db.ask("scene", "   ")
    with pytest.raises(tensormap.QueryError, match="bytes"):
        db.ask("scene", "cube " * 20_000)
    with pytest.raises(tensormap.QueryError, match="nope"):
        db.ask("nope", "all cubes")
    with pytest.raises(tensormap.QueryError, match="model"):
        db.ask("scene", "all cubes", model="missing")
