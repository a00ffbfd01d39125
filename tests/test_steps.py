"""Skipped results and the step decorator: the cause travels downstream under each step's name."""

from __future__ import annotations

import pytest

from helpers.steps import Skipped, first_skipped, is_skipped, step


@step("The Cox model")
def _cox(events: int) -> float | Skipped:
    if events < 20:
        return Skipped(f"only {events} churn events", "a Cox model needs at least 20")
    return 0.7


@step("The back-test")
def _backtest(model: float, days: int = 365) -> str:
    return f"C = {model} over {days} days"


@step("The scores", optional=("recalibration",))
def _scores(model: float, recalibration: float | Skipped) -> str:
    return "raw" if is_skipped(recalibration) else "recalibrated"


def test_a_step_names_its_own_skip_and_runs_on_real_input():
    skipped = _cox(events=5)
    assert skipped == Skipped(
        "only 5 churn events", "a Cox model needs at least 20", "The Cox model"
    )
    assert skipped.sentence() == (
        "The Cox model is not available: only 5 churn events (a Cox model needs at least 20)."
    )
    assert _cox(events=30) == 0.7


def test_downstream_steps_skip_with_the_first_cause_under_their_own_name():
    result = _backtest(model=_cox(events=5), days=90)
    assert result.step == "The back-test" and result.reason == "only 5 churn events"
    assert result.sentence().startswith("The back-test is not available: only 5 churn events")
    assert _backtest(model=_cox(events=25)) == "C = 0.7 over 365 days"


def test_an_optional_input_may_be_skipped():
    assert _scores(model=0.7, recalibration=Skipped("too little history")) == "raw"
    assert _scores(model=0.7, recalibration=0.9) == "recalibrated"
    assert is_skipped(_scores(model=Skipped("no orders"), recalibration=0.9))


def test_a_skipped_value_inside_a_dict_argument_skips_the_step():
    @step("Summary")
    def summary(parts: dict) -> int:
        return len(parts)

    assert summary(parts={"a": 1}) == 1
    assert summary(parts={"a": Skipped("gone")}).sentence() == "Summary is not available: gone."


def test_a_skipped_result_stands_in_for_attributes_items_and_calls():
    skipped = Skipped("no touchpoints table", "export touchpoints")
    assert skipped.table is skipped and skipped["x"] is skipped and skipped.head(15) is skipped
    assert not skipped and skipped.why() == "no touchpoints table (export touchpoints)"
    with pytest.raises(AttributeError):
        skipped._repr_html_  # noqa: B018 - protocol lookups must fail as for any object
    assert skipped._repr_markdown_() == "Not available: no touchpoints table (export touchpoints)."


def test_first_skipped():
    a, b = Skipped("a"), Skipped("b")
    assert first_skipped([1, a, b]) is a and first_skipped([1, 2]) is None


def test_the_sentence_is_escaped_when_rendered_as_markdown():
    assert "\\[x\\]" in Skipped("a channel named [x](javascript:y) is empty")._repr_markdown_()


def test_a_skipped_result_cannot_be_iterated_rather_than_looping_for_ever():
    skipped = Skipped("no leads table")
    with pytest.raises(TypeError, match="cannot be iterated: Not available: no leads table"):
        list(skipped)
    with pytest.raises(TypeError):
        "x" in skipped  # noqa: B015
