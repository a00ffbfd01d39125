"""The data check: which notebook sections a source can feed, and what the others need."""

from __future__ import annotations

from fixtures.exports import shapes

from helpers import check
from helpers.config import PROJECT_ROOT
from helpers.loading import load_dataset


def test_every_section_can_run_on_the_demo(demo):
    statuses = check.sections(ds=demo)
    assert len(statuses) == len(check.SECTIONS) and all(s.ready for s in statuses)
    text = check.render(ds=demo)
    assert text.splitlines()[0] == (
        f"Data source demo: analysis date 2025-12-31, fingerprint {demo.fingerprint}, currency EUR"
    )
    assert "03-channel-economics       6 of 6 sections can run" in text
    assert "needs" not in text
    assert len(text.splitlines()) <= 25  # one screen


def test_an_orders_only_source_says_what_each_missing_section_needs(tmp_path):
    ds = load_dataset(shapes.write_shape1(tmp_path))
    by_title = {s.section.title: s for s in check.sections(ds=ds)}
    assert by_title["1. Defining churn"].ready
    assert by_title["2. Kaplan-Meier: how long accounts stay"].ready
    assert by_title["2. Kaplan-Meier: how long accounts stay"].lacking == ("accounts",)
    assert by_title["3. Cox model: what makes accounts leave sooner"].missing == ("accounts",)
    assert by_title["2. Funnel by channel"].missing == ("leads", "leads.won_date")
    text = check.render(ds=ds)
    assert "  orders                 6 rows (not in the export: line_number, gross_margin)" in text
    assert "02-churn-survival          2 of 7 sections can run" in text
    assert "    3. Cox model: what makes accounts leave sooner: needs the accounts table" in text
    assert "    2. Funnel by channel: needs the leads table\n" in text  # not its columns too
    assert "03-channel-economics       0 of 6 sections can run" in text
    assert len(text.splitlines()) <= 40


def test_a_funnel_only_source_feeds_the_funnel_and_data_health(tmp_path):
    ds = load_dataset(shapes.write_shape3(tmp_path))
    ready = {s.section.title for s in check.sections(ds=ds) if s.ready}
    assert ready == {
        "1. Data health",
        "1. Spend and volume by channel",
        "2. Funnel by channel",
    }


def test_main_prints_the_check_or_the_validation_message(tmp_path, capsys):
    source = shapes.write_shape1(tmp_path)
    assert check.main(argv=[str(source)]) == 0
    assert "00-data-overview           4 of 4 sections can run" in capsys.readouterr().out
    (tmp_path / "orders.csv").write_text("CustomerID,InvoiceDate,Quantity,Amount\nC1,x,1,2\n")
    assert check.main(argv=[str(source)]) == 1
    err = capsys.readouterr().err
    assert "orders.csv, column 'order_date': dates that do not parse" in err
    assert "Traceback" not in err
    assert check.main(argv=[]) == 2


def test_make_check_runs_the_module_on_the_given_source():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "check: $(STAMP) ## Check a data source" in makefile
    assert "$(PY) -m helpers.check $(SOURCE)" in makefile
