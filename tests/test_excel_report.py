"""results.xlsx is built only from an output folder's saved tables and opens cleanly.

The folder comes from the public API on the Chancellor HIV workbook (base case, DSA and a
300-sample PSA), so every sheet can be checked against the CSV it was copied from.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, ScatterChart

from costmodel import files
from costmodel.api import run_workbook
from costmodel.reports import excel as excel_report
from costmodel.reports.excel import (
    CHART_DATA_SHEET,
    CURRENCY_FORMAT,
    EFFECT_FORMAT,
    MAX_COLUMN_WIDTH,
    PERCENT_FORMAT,
    number_format,
    sheet_title,
    write_results_workbook,
)

from .conftest import HIV_WORKBOOK


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def out_folder(tmp_path_factory) -> Path:
    result = run_workbook(HIV_WORKBOOK, psa_samples=300, deterministic=True)
    return result.write(tmp_path_factory.mktemp("run") / "out")


@pytest.fixture(scope="module")
def built(out_folder, tmp_path_factory):
    """results.xlsx with the input echo, plus the input workbook's hash before and after."""
    before = _sha256(HIV_WORKBOOK)
    path = tmp_path_factory.mktemp("xlsx") / "results.xlsx"
    write_results_workbook(out_folder, path, inputs_workbook=HIV_WORKBOOK)
    return path, load_workbook(path), before, _sha256(HIV_WORKBOOK)


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, na_values=[""])


def _header(ws) -> list:
    return [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]


def _column(ws, name: str) -> list:
    j = _header(ws).index(name) + 1
    return [row[0] for row in ws.iter_rows(min_row=2, min_col=j, max_col=j, values_only=True)]


def _summary_value(ws, key: str) -> object:
    for row in ws.iter_rows(values_only=True):
        if row[0] == key:
            return row[1]
    raise KeyError(key)


def _cells(ref: str, wb) -> list:
    """Values of a chart reference such as 'chart_data'!$B$3:$B$63."""
    sheet, cells = ref.rsplit("!", 1)
    found = wb[sheet.strip("'")][cells.replace("$", "")]
    if not isinstance(found, tuple):
        return [found.value]
    return [cell.value for row in found for cell in row]


def test_every_csv_has_a_sheet_with_its_header_and_row_count(built, out_folder):
    _, wb, _, _ = built
    csvs = sorted(out_folder.glob("*.csv"))
    assert {"base_case", "ceac", "dsa_oneway", "psa_samples"} <= {p.stem for p in csvs}
    for csv in csvs:
        table = _csv(out_folder, csv.stem)
        ws = wb[sheet_title(csv.stem)]
        assert _header(ws) == list(table.columns), csv.name
        assert ws.max_row - 1 == len(table), csv.name


def test_sheet_order_summary_first_psa_last_then_chart_data_and_inputs(built):
    _, wb, _, _ = built
    names = wb.sheetnames
    assert names[0] == "Summary"
    order = [names.index(sheet_title(n)) for n in ("base_case", "dsa_oneway", "psa_summary")]
    assert order == sorted(order)
    order = [names.index(sheet_title(n)) for n in ("ceac", "ce_plane", "psa_samples")]
    assert order == sorted(order)
    inputs = [n for n in names if n.startswith("input_")]
    assert names[-len(inputs) :] == inputs
    assert names.index(sheet_title(CHART_DATA_SHEET)) < names.index(inputs[0])
    assert all(len(n) <= 31 for n in names)
    assert len({n.casefold() for n in names}) == len(names)


def test_summary_sheet_has_provenance_and_icer_table(built, out_folder):
    _, wb, _, _ = built
    summary = json.loads((out_folder / "summary.json").read_text())
    ws = wb["Summary"]
    assert _summary_value(ws, "input_sha256") == summary["input_sha256"]
    assert _summary_value(ws, "model") == summary["model"]
    assert _summary_value(ws, "seed") == summary["seed"]
    assert _summary_value(ws, "psa_samples") == 300
    assert _summary_value(ws, "currency") == "GBP"
    icer = {r["strategy"]: r["icer"] for r in summary["icer_table"]}
    assert _summary_value(ws, "combination") == "Zidovudine + lamivudine"
    rows = list(ws.iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "strategy" and "icer" in r)
    combination = next(r for r in rows if r[0] == "combination")
    assert combination[header.index("icer")] == pytest.approx(icer["combination"], rel=1e-12)
    # under the table: its units (the HIV example counts life-years) and the status codes
    legend = next(r[0] for r in rows if r[0] and str(r[0]).startswith("Per patient, discounted"))
    assert "ICERs in GBP per LY" in legend and "ed extendedly dominated" in legend


def test_ceac_chart_has_one_smooth_series_per_strategy_from_ceac_csv(built, out_folder):
    _, wb, _, _ = built
    ceac = _csv(out_folder, "ceac")
    strategies = list(dict.fromkeys(ceac.strategy))
    charts = wb[sheet_title("ceac")]._charts
    assert len(charts) == 1
    chart = charts[0]
    assert isinstance(chart, ScatterChart)
    assert len(chart.series) == len(strategies) == 2
    for series, strategy in zip(chart.series, strategies, strict=True):
        assert series.smooth
        x = _cells(series.xVal.numRef.f, wb)
        y = _cells(series.yVal.numRef.f, wb)
        expected = ceac[ceac.strategy == strategy]
        assert x == pytest.approx(expected.wtp.tolist())
        assert y == pytest.approx(expected.prob_ce.tolist())
    title = "".join(r.t for p in chart.x_axis.title.tx.rich.p for r in p.r)
    assert "GBP" in title and "per LY" in title  # the unit the CLI, report and figures use


def test_ce_plane_is_difference_of_saved_columns_versus_reference(built, out_folder):
    _, wb, _, _ = built
    samples = _csv(out_folder, "psa_samples")
    wide = samples.pivot(index="sample", columns="strategy", values=["cost", "ly"])
    ws = wb[sheet_title("ce_plane")]
    assert _header(ws) == ["sample", "inc_ly_combination", "inc_cost_combination"]
    assert ws.max_row - 1 == samples["sample"].nunique() == 300
    sample_ids = _column(ws, "sample")
    expected_cost = wide[("cost", "combination")] - wide[("cost", "monotherapy")]
    expected_ly = wide[("ly", "combination")] - wide[("ly", "monotherapy")]
    assert _column(ws, "inc_cost_combination") == pytest.approx(
        expected_cost.loc[sample_ids].tolist(), rel=1e-12
    )
    assert _column(ws, "inc_ly_combination") == pytest.approx(
        expected_ly.loc[sample_ids].tolist(), rel=1e-12
    )
    (chart,) = ws._charts
    assert isinstance(chart, ScatterChart)
    (series,) = chart.series  # one comparison: combination vs monotherapy
    assert series.spPr.ln.noFill  # markers only
    assert series.marker.symbol == "circle"
    assert _cells(series.yVal.numRef.f, wb) == pytest.approx(expected_cost.loc[sample_ids].tolist())


def test_tornado_is_a_clustered_horizontal_bar_chart_of_inmb_low_and_high(built, out_folder):
    _, wb, _, _ = built
    oneway = _csv(out_folder, "dsa_oneway")
    (chart,) = wb[sheet_title("dsa_oneway")]._charts
    assert isinstance(chart, BarChart)
    assert (chart.type, chart.grouping) == ("bar", "clustered")
    assert len(chart.series) == 2
    low, high = chart.series
    assert _cells(low.tx.strRef.f, wb) == ["inmb_low"]
    assert _cells(high.tx.strRef.f, wb) == ["inmb_high"]
    parameters = _cells(low.cat.strRef.f, wb)
    # Widest range on top: a horizontal bar chart draws the first category at the bottom.
    first = oneway[(oneway.strategy == oneway.strategy[0])]
    expected = first.sort_values("inmb_range", ascending=False).head(15)
    assert parameters == expected.parameter.tolist()[::-1]
    assert _cells(high.val.numRef.f, wb) == pytest.approx(expected.inmb_high.tolist()[::-1])
    assert chart.x_axis.crossesAt == pytest.approx(first.inmb_base.iloc[0])


def test_budget_impact_bar_chart_plots_the_saved_columns(tmp_path, out_folder):
    folder = shutil.copytree(out_folder, tmp_path / "out")
    budget = pd.DataFrame(
        {
            "year": [1, 2, 3],
            "with_msc": [5e6, 5.1e6, 5.2e6],
            "without_msc": [4e6, 4.1e6, 4.2e6],
            "budget_impact": [1e6, 1e6, 1e6],
            "cumulative": [1e6, 2e6, 3e6],
        }
    )
    budget.to_csv(folder / "budget_impact.csv", index=False)
    path = tmp_path / "results.xlsx"
    write_results_workbook(folder, path)
    wb = load_workbook(path)
    ws = wb[sheet_title("budget_impact")]
    assert ws.cell(2, 4).number_format == CURRENCY_FORMAT
    (chart,) = ws._charts
    assert isinstance(chart, BarChart) and chart.type == "col"
    titles = [_cells(s.tx.strRef.f, wb)[0] for s in chart.series]
    assert titles == ["with_msc", "without_msc", "budget_impact", "cumulative"]
    assert _cells(chart.series[2].val.numRef.f, wb) == budget.budget_impact.tolist()
    assert _cells(chart.series[0].cat.numRef.f, wb) == [1, 2, 3]


def test_number_formats_freeze_panes_filter_and_widths(built):
    _, wb, _, _ = built
    base = wb[sheet_title("base_case")]
    header = _header(base)
    assert base.cell(2, header.index("cost") + 1).number_format == CURRENCY_FORMAT
    assert base.cell(2, header.index("ly") + 1).number_format == EFFECT_FORMAT
    # the yearly HIV model does not resolve day 28 or 90: no deaths-by-day columns (issue #15)
    assert not [h for h in header if h.startswith("deaths_day_")]
    assert number_format("base_case", "deaths_day_28") == PERCENT_FORMAT
    ceac = wb[sheet_title("ceac")]
    assert ceac.cell(2, _header(ceac).index("prob_ce") + 1).number_format == PERCENT_FORMAT
    for name in ("base_case", "ceac", "dsa_oneway", "psa_samples", "ce_plane"):
        ws = wb[sheet_title(name)]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref.startswith("A1:")
        assert ws.cell(1, 1).font.b
    for ws in wb.worksheets:
        assert all(d.width <= MAX_COLUMN_WIDTH for d in ws.column_dimensions.values())


def test_missing_values_are_empty_cells_and_booleans_stay_booleans(built, out_folder):
    _, wb, _, _ = built
    base = _csv(out_folder, "base_case")
    assert math.isnan(base.inc_cost[0])  # the reference strategy has no increment
    assert _column(wb[sheet_title("base_case")], "inc_cost")[0] is None
    frontier = _column(wb[sheet_title("ceac")], "on_frontier")
    assert set(map(type, frontier)) == {bool}
    assert frontier == _csv(out_folder, "ceac").on_frontier.tolist()


def test_input_sheets_are_echoed_and_the_input_file_is_untouched(built):
    _, wb, before, after = built
    assert before == after
    source = load_workbook(HIV_WORKBOOK, read_only=True)
    try:
        for ws in source.worksheets:
            echo = wb[f"input_{ws.title}"[:31]]
            for row in ws.iter_rows(max_row=5):
                for cell in row:
                    if cell.value is not None:
                        assert echo[cell.coordinate].value == cell.value
    finally:
        source.close()


def test_strings_are_text_never_formulas_and_nan_inf_are_empty(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    table = pd.DataFrame(
        {
            "strategy": ["=cmd|' /C calc'!A0", "#N/A", "plain"],
            "cost": [1.0, float("nan"), float("inf")],
            "flag": [True, False, True],
        }
    )
    table.to_csv(folder / "base_case.csv", index=False)
    path = tmp_path / "results.xlsx"
    write_results_workbook(folder, path)
    ws = load_workbook(path)[sheet_title("base_case")]
    assert ws["A2"].value == "=cmd|' /C calc'!A0"
    assert ws["A2"].data_type == "s"
    assert ws["A3"].value == "#N/A" and ws["A3"].data_type == "s"
    assert ws["B3"].value is None and ws["B4"].value is None
    assert ws["C2"].value is True
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any("<f>" in archive.read(n).decode() for n in sheets)
    summary = load_workbook(path)["Summary"]
    assert _summary_value(summary, "summary.json") == "not found in the output folder"


def test_formulas_in_the_input_workbook_are_echoed_as_text(tmp_path, out_folder):
    source = tmp_path / "model.xlsx"
    wb = Workbook()
    wb.active.title = "Parameters 'base' (2024 prices)"
    wb.active["A1"], wb.active["B3"] = "name", "=1+2"
    wb.save(source)
    before = _sha256(source)
    path = tmp_path / "results.xlsx"
    write_results_workbook(out_folder, path, inputs_workbook=source)
    echo = load_workbook(path)["input_Parameters 'base' (2024 p"]  # truncated to 31
    assert echo["A1"].value == "name"
    assert (echo["B3"].value, echo["B3"].data_type) == ("=1+2", "s")
    assert _sha256(source) == before


def test_write_is_atomic(tmp_path, out_folder, monkeypatch):
    path = tmp_path / "results.xlsx"
    path.write_bytes(b"previous results")
    write_results_workbook(out_folder, path)
    assert load_workbook(path).sheetnames[0] == "Summary"  # replaced whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.xlsx"]  # no temp file left

    previous = path.read_bytes()

    def fail(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_results_workbook(out_folder, path)
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.xlsx"]


def test_refuses_to_overwrite_the_input_workbook(tmp_path, out_folder):
    source = tmp_path / "model.xlsx"
    shutil.copyfile(HIV_WORKBOOK, source)
    with pytest.raises(excel_report.ExcelReportError, match="input workbook"):
        write_results_workbook(out_folder, source, inputs_workbook=source)
    assert _sha256(source) == _sha256(HIV_WORKBOOK)


def test_large_psa_samples_is_left_out_but_the_ce_plane_stays(tmp_path, out_folder, monkeypatch):
    monkeypatch.setattr(excel_report, "PSA_SAMPLES_MAX_ROWS", 100)
    monkeypatch.setattr(excel_report, "CE_PLANE_MAX_SAMPLES", 40)
    path = tmp_path / "results.xlsx"
    write_results_workbook(out_folder, path)
    wb = load_workbook(path)
    assert sheet_title("psa_samples") not in wb.sheetnames
    notes = [r[0] for r in wb["Summary"].iter_rows(values_only=True) if r[0]]
    assert any("psa_samples.csv has 600 rows" in str(n) for n in notes)
    assert wb[sheet_title("ce_plane")].max_row - 1 == 40


def test_sheet_titles_are_valid_unique_and_short(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("a_table_name_far_longer_than_thirty_one_characters", "a_table_name_far_longer_x"):
        pd.DataFrame({"x": [1]}).to_csv(folder / f"{name}_1.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(folder / "History.csv", index=False)
    path = tmp_path / "results.xlsx"
    write_results_workbook(folder, path)
    names = load_workbook(path).sheetnames
    assert len(names) == 5  # Summary, Contents and the three tables
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert len({n.casefold() for n in names}) == 5
    assert "History" not in names  # reserved by Excel


@pytest.mark.parametrize(
    ("table", "column", "expected"),
    [
        ("base_case", "cost", CURRENCY_FORMAT),
        ("base_case", "cost_per_death_averted_day_28", CURRENCY_FORMAT),
        ("psa_summary", "inc_cost_low", CURRENCY_FORMAT),
        ("base_case", "nmb_20000", CURRENCY_FORMAT),
        ("dsa_oneway", "inmb_high", CURRENCY_FORMAT),
        ("base_case", "icer_per_qaly_vs_reference", CURRENCY_FORMAT),
        ("evpi", "evpi_population", CURRENCY_FORMAT),
        ("budget_impact", "with_msc", CURRENCY_FORMAT),
        ("base_case", "qaly", EFFECT_FORMAT),
        ("psa_summary", "inc_ly_mean", EFFECT_FORMAT),
        ("ceac", "prob_ce", PERCENT_FORMAT),
        ("psa_summary", "prob_cost_saving", PERCENT_FORMAT),
        ("base_case", "deaths_day_90", PERCENT_FORMAT),
        ("evidence", "i2", PERCENT_FORMAT),
        ("calibration", "target", PERCENT_FORMAT),
        ("trace", "cycle", None),
        ("budget_impact", "year", None),
        # money columns that showed as General (up to 11 digits: -2785.791324)
        ("biomarker", "max_test_cost_20000", CURRENCY_FORMAT),
        ("biomarker", "deaths_day_28", PERCENT_FORMAT),
        ("subgroups", "threshold_price_30000", CURRENCY_FORMAT),
        ("hypothetical", "price_base", CURRENCY_FORMAT),
        ("voi_by_price", "price", CURRENCY_FORMAT),
        ("voi_by_price", "enbs", CURRENCY_FORMAT),
        ("evsi", "trial_cost", CURRENCY_FORMAT),
        ("evsi", "se", CURRENCY_FORMAT),
        ("ceac", "expected_loss", CURRENCY_FORMAT),
        ("psa_summary", "frontier_icer_of_means", CURRENCY_FORMAT),
        ("scenarios", "frontier_icer", CURRENCY_FORMAT),
        ("evidence_studies", "variance", None),  # se outside evppi/evsi keeps General
        ("threshold", "threshold_value", None),  # a price or an effect: mixed units
    ],
)
def test_number_format_rule(table, column, expected):
    assert number_format(table, column) == expected


def test_libreoffice_opens_the_workbook(built, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    path, _, _, _ = built
    profile = (tmp_path / "profile").as_uri()
    options = [f"-env:UserInstallation={profile}", "--headless", "--convert-to", "csv"]
    done = subprocess.run(
        [soffice, *options, "--outdir", str(tmp_path), str(path)],
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first_sheet = (tmp_path / "results.csv").read_text()
    assert "input_sha256" in first_sheet


def test_every_sheet_prints_landscape_fitted_to_width_with_repeated_headers(tmp_path):
    from openpyxl import load_workbook as _load

    result = run_workbook(HIV_WORKBOOK, psa_samples=100, seed=1)
    out = result.write(tmp_path / "print")
    wb = _load(out / "results.xlsx")
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    assert wb[sheet_title("base_case")].print_title_rows == "$1:$1"


def test_contents_sheet_links_every_sheet_with_its_source(built):
    """Readable titles (issue #15), each listed on Contents with a link and the CSV copied."""
    _, wb, _, _ = built
    assert wb.sheetnames[:3] == ["Summary", "Contents", "ICER table"]
    rows = list(wb["Contents"].iter_rows(min_row=2))
    listed = {r[0].value: (r[0].hyperlink, r[2].value) for r in rows}
    assert set(listed) == set(wb.sheetnames) - {"Contents"}
    link, source = listed["ICER table"]
    assert link.location == "'ICER table'!A1" and source == "base_case.csv"
    assert listed["One-way DSA"][1] == "dsa_oneway.csv"


def test_value_of_information_charts_read_their_tables(tmp_path):
    """EVPI (by WTP), EVPPI (by group) and EVSI (by trial size) charts, their series on the
    Chart data sheet holding the saved numbers (issue #15)."""
    folder = tmp_path / "out"
    folder.mkdir()
    pd.DataFrame({"wtp": [0, 10_000, 20_000], "evpi_per_patient": [0.0, 5.5, 12.0]}).to_csv(
        folder / "evpi.csv", index=False
    )
    pd.DataFrame(
        {
            "group": ["costs", "costs", "effect", "effect"],
            "wtp": [20_000, 30_000, 20_000, 30_000],
            "evppi_per_patient": [1.0, 2.0, 3.0, 4.0],
        }
    ).to_csv(folder / "evppi.csv", index=False)
    pd.DataFrame(
        {"wtp": [20_000] * 3, "n_per_arm": [50, 100, 200], "evsi_per_patient": [1.0, 1.5, 1.8]}
    ).to_csv(folder / "evsi.csv", index=False)
    path = tmp_path / "results.xlsx"
    write_results_workbook(folder, path)
    wb = load_workbook(path)
    data = wb[sheet_title(CHART_DATA_SHEET)]
    for name in ("evpi", "evppi", "evsi"):
        (chart,) = wb[sheet_title(name)]._charts
        refs = [(s.val or s.yVal).numRef.f for s in chart.series]
        assert refs and all(r.startswith("'Chart data'!") for r in refs), name
    (evppi,) = wb[sheet_title("evppi")]._charts
    assert [_cells(s.val.numRef.f, wb) for s in evppi.series] == [[1.0, 3.0], [2.0, 4.0]]
    assert data["A1"].value.startswith("EVPI per patient")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n != "docProps/core.xml"}


@pytest.mark.parametrize("fast", [True, False])
def test_long_tables_written_as_xml_text_are_the_bytes_openpyxl_writes(tmp_path, monkeypatch, fast):
    """Rows of long sheets are formatted as XML text (excel_rows) and spliced into the saved
    file: every part of the workbook is byte for byte what streaming the cells through
    openpyxl gives. Text that openpyxl stores specially (a formula-like string) or a boolean
    column sends the table through openpyxl."""
    from costmodel.reports import excel_rows, excel_sheets

    folder = tmp_path / "out"
    folder.mkdir()
    n = 40
    table = pd.DataFrame(
        {
            "sample": range(1, n + 1),
            "strategy": (["standard_care", "msc & <cells>", None, "msc_late"] * n)[:n],
            "note": (["été 😀", "a\x01b", None, "plain"] * n)[:n],  # a column no chart reads
            "cost": [1234.5678901234567 * i if i % 7 else float("nan") for i in range(n)],
            "qaly": [0.1 * i if i % 11 else float("inf") for i in range(n)],
            "p_x": [1e-17 * i - 3 for i in range(n)],
        }
    )
    table.loc[5, ["cost", "qaly", "p_x"]] = float("nan")
    table.loc[5, ["strategy", "note"]] = None  # a row of empty cells but its sample number
    if not fast:
        table["flag"] = [i % 2 == 0 for i in range(n)]
    table.to_csv(folder / "psa_samples.csv", index=False)
    found = []
    original = excel_sheets.rows_xml

    def spy(t, *args):
        rows = original(t, *args)
        if "strategy" in t:  # the psa_samples table (the CE plane's has no text)
            found.append(rows)
        return rows

    monkeypatch.setattr(excel_sheets, "rows_xml", spy)
    monkeypatch.setattr(excel_sheets, "BULK_MIN_ROWS", 10)
    write_results_workbook(folder, tmp_path / "fast.xlsx")
    assert len(found) == 1 and (found[0] is not None) == fast
    if fast:
        assert '<c r="B3" t="inlineStr"><is><t>msc &amp; &lt;cells&gt;</t></is></c>' in found[0]
        assert '<c r="D3" s="' in found[0] and "<v>1234.567890123457</v>" in found[0]
        assert "<t>&#233;t&#233; &#128512;</t>" in found[0] and "<t>ab</t>" in found[0]
    monkeypatch.setattr(excel_sheets, "BULK_MIN_ROWS", 10**9)
    write_results_workbook(folder, tmp_path / "streamed.xlsx")
    assert _members(tmp_path / "fast.xlsx") == _members(tmp_path / "streamed.xlsx")
    ws = load_workbook(tmp_path / "fast.xlsx")[sheet_title("psa_samples")]
    assert ws["B3"].value == "msc & <cells>" and ws["F2"].value == -3
    assert ws["C2"].value == "été 😀" and ws["C3"].value == "ab"
    assert ws["D7"].value is None and ws["B7"].value is None and ws["A7"].value == 6
    for special in ("=1+1", "\x01=1+1", "#N/A\x02", "x \x01", "\x01", "\ufffe"):
        # judged after cleaning (control characters removed): streamed through openpyxl
        assert excel_rows.rows_xml(pd.DataFrame({"s": [special]}), [None], lambda f: 1) is None


def test_long_table_columns_of_extension_types_are_streamed_through_openpyxl():
    """Nullable numbers (pd.NA) are streamed through openpyxl; pandas' string types are text
    (missing: an empty cell)."""
    from costmodel.reports import excel_rows

    style = lambda fmt: 1  # noqa: E731
    for column in (pd.array([1, None], dtype="Int64"), pd.array([0.5, None], dtype="Float64")):
        assert excel_rows.rows_xml(pd.DataFrame({"x": column}), [None], style) is None
    strings = pd.DataFrame({"x": pd.array(["a", None], dtype="string")})
    text = excel_rows.rows_xml(strings, [None], style)
    assert text == '<row r="2"><c r="A2" t="inlineStr"><is><t>a</t></is></c></row><row r="3"></row>'
    plain = excel_rows.rows_xml(pd.DataFrame({"x": [1, 2]}), [None], style)
    cells = ['<c r="A2" t="n"><v>1</v></c>', '<c r="A3" t="n"><v>2</v></c>']
    assert plain == f'<row r="2">{cells[0]}</row><row r="3">{cells[1]}</row>'
