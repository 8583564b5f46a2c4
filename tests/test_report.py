"""report.html, cheers.csv and `costmodel report`: built from saved results, self-contained."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from costmodel.api import run_workbook
from costmodel.cli import main
from costmodel.reports.html import CHEERS_ITEMS
from tests.conftest import HIV_WORKBOOK, ROOT


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []
        self.tables = 0
        self.section_ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "table":
            self.tables += 1
        if tag == "section":
            self.section_ids.append(attrs.get("id", ""))
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])


@pytest.fixture(scope="module")
def hiv_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "hiv"
    run_workbook(HIV_WORKBOOK, psa_samples=300, deterministic=True).write(out)
    return out


def _parse(path):
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def test_report_is_self_contained_with_every_figure(hiv_folder):
    parsed = _parse(hiv_folder / "report.html")
    figures = {p.stem for p in (hiv_folder / "figures").glob("*.svg")}
    assert {"state_diagram", "tornado", "twoway", "ce_plane", "ceac", "evpi"} <= figures
    assert len(parsed.images) == len(figures)
    for image in parsed.images:
        assert image["src"].startswith("data:image/"), image["src"][:40]
        assert len(image.get("alt", "")) > 20
    external = [link for link in parsed.links if not link.startswith(("data:", "#"))]
    assert external == []
    assert parsed.tables >= 8
    for section in ("problem", "model", "inputs", "base", "dsa", "psa", "provenance", "cheers"):
        assert section in parsed.section_ids


def test_cheers_checklist_covers_all_28_items(hiv_folder):
    cheers = pd.read_csv(hiv_folder / "cheers.csv")
    assert list(cheers.item) == list(range(1, 29))
    assert len(CHEERS_ITEMS) == 28
    assert set(cheers.status) <= {"addressed", "partly", "user to complete", "not applicable"}
    assert cheers.where_or_why.str.len().min() > 10
    text = (hiv_folder / "report.html").read_text()
    assert "Characterizing distributional effects" in text


def test_tables_folder_holds_every_csv(hiv_folder):
    top = {p.name for p in hiv_folder.glob("*.csv")} - {"cheers.csv"}
    assert top <= {p.name for p in (hiv_folder / "tables").glob("*.csv")}


def test_report_command_rebuilds_from_saved_results(hiv_folder, capsys):
    report = hiv_folder / "report.html"
    report.unlink()
    (hiv_folder / "results.xlsx").unlink()
    assert main(["report", str(hiv_folder)]) == 0
    assert report.exists() and (hiv_folder / "results.xlsx").exists()
    assert "Report rebuilt" in capsys.readouterr().out


def test_report_command_refuses_other_folders(tmp_path):
    assert main(["report", str(tmp_path)]) == 1


def test_weak_inputs_are_flagged_in_the_msc_report(tmp_path):
    out = tmp_path / "msc"
    run_workbook(ROOT / "inputs" / "msc_covid19.xlsx", psa_samples=0, deterministic=False).write(
        out
    )
    text = (out / "report.html").read_text()
    assert "class='weak'" in text
    parameters = pd.read_csv(out / "parameters.csv").set_index("name")
    assert parameters.loc["weight_kg", "weak"]  # [A]
    assert not parameters.loc["smr_post_discharge_early", "weak"]  # [V] only
    assert parameters.loc["c_day_icu", "weak"]  # value [V] but its SE is [A]


def test_report_opens_with_the_decision_summary(hiv_folder):
    """The summary comes before the model and inputs (issue #15): its key results table has
    every strategy, and its ICER is the base case's."""
    text = (hiv_folder / "report.html").read_text()
    assert text.index("Summary for decision makers") < text.index("<h2>Decision problem")
    assert text.index("Summary for decision makers") < text.index("<h2>Inputs")
    base = pd.read_csv(hiv_folder / "base_case.csv")
    summary = text[text.index("Summary for decision makers") : text.index("<h2>Decision problem")]
    for label in base.label:
        assert label in summary
    icer = base.icer.dropna().iloc[0]
    assert f"{icer:,.0f}" in summary


def test_summary_shows_net_health_benefit_and_clinical_results(hiv_folder, tmp_path):
    """Issue #15: NHB at each WTP beside NMB (HIV, per life-year: NHB = LY - cost / WTP, by
    hand from base_case.csv); the yearly HIV model resolves no day, so no clinical table."""
    text = (hiv_folder / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") : text.index("<section id='problem'")]
    base = pd.read_csv(hiv_folder / "base_case.csv").set_index("strategy")
    assert "NHB (LYs) at GBP 20,000 per LY" in summary
    nhb = base.loc["combination", "ly"] - base.loc["combination", "cost"] / 20_000
    assert f"{nhb:,.3f}" in summary
    assert "Clinical results versus" not in summary
    out = tmp_path / "msc"
    assert (
        main(["run", str(ROOT / "inputs" / "msc_covid19.xlsx"), "--fast", "--out", str(out)]) == 0
    )
    text = (out / "report.html").read_text(encoding="utf-8")
    summary = text[text.index("<section id='summary'") : text.index("<section id='problem'")]
    msc = pd.read_csv(out / "base_case.csv").set_index("strategy").loc["msc_cells"]
    assert "Clinical results versus Standard care" in summary
    assert "<td>extendedly dominated</td>" in summary and "<td>ed</td>" not in summary
    assert (
        f"{msc.nnt_day_28:.1f}" in summary and f"{1000 * msc.deaths_averted_day_28:.1f}" in summary
    )


def test_provenance_shows_values_as_written_in_a_workbook(hiv_folder):
    """No Python reprs (issue #15): 'yes', '20000, 30000', '40' rather than True,
    [20000.0, 30000.0] or 40.0."""
    text = (hiv_folder / "report.html").read_text(encoding="utf-8")
    provenance = text[text.index("<section id='provenance'>") :]
    provenance = provenance[: provenance.index("</section>")]
    assert "<td>20000, 30000</td>" in provenance
    for repr_text in ("True", "False", "[20000.0", "(20000.0", "40.0<"):
        assert repr_text not in provenance, repr_text


def test_report_cells_wrap_long_lists_and_urls_at_their_joins_and_keep_identifiers_whole():
    """Line-break opportunities in table cells (the browser test measures the result):
    after the joins of a URL or a parameter list, after the underscores of an identifier
    only when it is longer than 30 characters, anywhere in a hash; escaped as HTML."""
    from costmodel.reports.html_elements import _breakable

    assert (
        _breakable("smr_post_discharge_early & <b>") == "smr_post_discharge_early &amp; &lt;b&gt;"
    )
    assert _breakable("a_b+c_d+e_f+g_h_i") == "a_b+<wbr>c_d+<wbr>e_f+<wbr>g_h_i"
    assert _breakable("https://doi.org/x?a=1&b=2") == (
        "https://<wbr>doi.org/<wbr>x?<wbr>a=<wbr>1&amp;<wbr>b=<wbr>2"
    )
    assert _breakable("observed_post_discharge_mortality") == (
        "observed_<wbr>post_<wbr>discharge_<wbr>mortality"
    )
    assert _breakable("f" * 64) == f"<span class='long'>{'f' * 64}</span>"
    # the pieces between joins are treated as tokens of their own
    assert _breakable("https://x.org/" + "f" * 64) == (
        f"https://<wbr>x.org/<wbr><span class='long'>{'f' * 64}</span>"
    )
    assert _breakable("a+observed_post_discharge_mortality") == (
        "a+<wbr>observed_<wbr>post_<wbr>discharge_<wbr>mortality"
    )


def test_an_ly_models_report_tables_show_icers_and_effects_per_ly():
    """An LY model (effect_measure = ly) whose QALYs differ from its LYs: the key results'
    'ICER vs reference' is per LY like the frontier's ICER (it showed the per-QALY ICER),
    and the subgroup and hypothetical tables name LYs (they said QALYs)."""
    from costmodel.reports.html_sections import _subgroup_columns, hypothetical
    from costmodel.reports.html_summary import _key_results

    base = pd.DataFrame(
        {
            "strategy": ["a", "b"],
            "label": ["A", "B"],
            "cost": [1000.0, 3000.0],
            "qaly": [1.0, 1.25],
            "ly": [2.0, 2.5],
            "icer_per_qaly_vs_reference": [float("nan"), 8000.0],  # 2000 / 0.25 QALY
            "icer_per_ly_vs_reference": [float("nan"), 4000.0],  # 2000 / 0.5 LY
            "icer": [float("nan"), 4000.0],  # the frontier, per LY
        }
    )
    settings = {"effect_measure": "ly", "reference_strategy": "a", "currency": "GBP"}
    table = _key_results(base, None, [1000.0], settings).set_index("Strategy")
    assert table.loc["B", "ICER vs reference (GBP per LY)"] == 4000.0
    assert table.loc["B", "LYs"] == 2.5 and table.loc["B", "QALYs"] == 1.25
    assert table.loc["B", "NHB (LYs) at GBP 1,000 per LY"] == pytest.approx(2.5 - 3000.0 / 1000.0)
    assert _subgroup_columns(settings)["ly"] == "LYs"
    assert "qaly" not in _subgroup_columns(settings)
    frame = pd.DataFrame({"label": ["B"], "inc_effect": [0.5]})
    _, _, body = hypothetical(None, {"settings": settings}, {"hypothetical": frame})
    assert "Incremental LYs" in body and "QALY" not in body


def test_treat_all_versus_base_case_by_hand():
    """The biomarker's treat-all arm against the base case's run of the same strategy: a
    gap of 0.1 in a gain of 0.5 QALYs is 20%; within 1% of the gain nothing is said."""
    from costmodel.reports.html_limitations import _biomarker_split
    from costmodel.reports.html_sections import treat_all_vs_base_case

    base = pd.DataFrame(
        {
            "strategy": ["soc", "new"],
            "label": ["Usual care", "New drug"],
            "cost": [1000.0, 5000.0],
            "qaly": [5.0, 5.5],
            "deaths_day_30": [0.2, 0.1],
        }
    )
    biomarker = pd.DataFrame(
        {
            "strategy": ["soc", "test_and_treat", "treat_all"],
            "cost": [1000.0, 3000.0, 4900.0],
            "effect": [5.0, 5.3, 5.4],
            "deaths_day_30": [0.2, 0.15, 0.12],
        }
    )
    settings = {"reference_strategy": "soc", "biomarker_strategy": "new", "currency": "EUR"}
    tables = {"base_case": base, "biomarker": biomarker}
    text = treat_all_vs_base_case({"settings": settings}, tables)
    assert "gives everyone New drug" in text
    assert "5.400 against 5.500 QALYs (20% of the base case's gain" in text
    assert "EUR 4,900 against EUR 5,000" in text
    assert "deaths by day 30: 120 against 100 per 1,000" in text
    brief = _biomarker_split({"settings": settings}, tables)
    assert "differs from the base case by 20% of its QALY gain" in brief
    biomarker.loc[2, "effect"] = 5.496  # 0.8% of the gain
    assert treat_all_vs_base_case({"settings": settings}, tables) == ""


def test_report_numbers_round_halves_as_excel_shows_them():
    """A half is rounded away from zero, as results.xlsx shows it: the HIV example's
    lamivudine price 2,086.5 read '2,086' in report.html's tables (Python rounds half to
    even) and '2,087' in Excel."""
    from costmodel.reports.html_elements import _column_format, _format, fixed

    assert fixed(2086.5, 0) == "2,087" and fixed(-2086.5, 0) == "-2,087"
    assert fixed(2.675, 2) == "2.68"  # the decimal written, not the binary 2.67499...
    assert fixed(44663.25, 1) == "44,663.3"
    assert _format(2086.5) == "2,087" and _format(150.25) == "150.3"
    column = _column_format(pd.Series([2086.5, 44663.25, 120.125]))  # whole numbers
    assert [column(v) for v in (2086.5, 44663.25)] == ["2,087", "44,663"]


def test_life_table_source_is_a_limitation_only_when_flagged_weak():
    from costmodel.reports.html_limitations import _life_table

    def summary(source: str) -> dict:
        return {"settings": {"life_table_source": source}}

    assert _life_table(summary("US SSA period life table, 2018 data year [V]"), {}) == ""
    assert _life_table(summary(""), {}) == ""
    weak = _life_table(summary("ONS 2018-2020 as recalled [R]"), {})
    assert weak == "Background mortality: ONS 2018-2020 as recalled [R]."


def test_a_source_that_calls_itself_weak_is_weak():
    """From an HTA review: 'NICE TA971 decision summary (CFS proxy) [V secondary; weak]' gave
    no flags and was not highlighted; a bracket's first word is its flag, 'secondary' adds
    [S] and 'weak' marks the input weak. Limitations lists it with its own kind."""
    from costmodel.reports.html_limitations import _weak_inputs
    from costmodel.results import evidence_flags

    assert evidence_flags("NICE TA971 (CFS proxy) [V secondary; weak]") == (["[V]", "[S]"], True)
    assert evidence_flags("DHSC cost collection [V]") == (["[V]"], False)
    assert evidence_flags("DHSC [V]; SE [A] CV 10%") == (["[V]", "[A]"], True)
    assert evidence_flags("[Varies by region]") == ([], False)
    assert evidence_flags("expert [A: expert opinion]") == (["[A]"], True)
    assert evidence_flags("[v] and [r?]") == (["[V]", "[R]"], True)
    assert evidence_flags("[V (weak)]") == (["[V]"], True)
    assert evidence_flags("[V; not weak]") == (["[V]"], False)
    assert evidence_flags("ref [1]; [GAP]") == (["[GAP]"], True)
    parameters = pd.DataFrame(
        {
            "name": ["c_post", "u_imv", "c_ward"],
            "evidence_flags": ["[V] [S]", "[A]", "[V]"],
            "weak": [True, True, False],
        }
    )
    text = _weak_inputs({}, {"parameters": parameters})
    assert "1 rests on an assumption [A] (u_imv)" in text
    assert "1 is marked weak by its source (c_post)" in text
    assert "c_ward" not in text
