"""report.html as a browser renders it (headless Chromium, the Debian package): the decision
summary is the first thing a reader sees, every figure loads, nothing is fetched from outside.
Slow (a browser start per test): run by `make test-all`; skipped where Chromium is absent."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from costmodel.api import run_workbook
from tests.conftest import HIV_WORKBOOK

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "hiv"
    run_workbook(HIV_WORKBOOK, psa_samples=200, seed=1).write(out)
    return out / "report.html"


def test_rendered_report_opens_with_the_decision_summary(report):
    dom = _chromium("--dump-dom", report.as_uri()).stdout
    import re

    headings = re.findall(r"<h2[^>]*>([^<]*)</h2>", dom)
    assert headings[0] == "Summary for decision makers"
    assert headings.index("Inputs") > headings.index("Model") > 0  # details after the decision
    start = dom.index(f">{headings[0]}</h2>")
    summary = dom[start : dom.index("<h2", start)]
    # the HIV workbook's effect measure is LY: the summary speaks of LYs, not QALYs
    assert "GBP 6,276 per LY" in summary and "per QALY" not in summary
    # every figure is inline (data: URIs or SVG): nothing is fetched from elsewhere
    assert not re.search(r"""(src|href)=["']https?:""", dom)


def test_rendered_report_screenshot_is_not_blank(report, tmp_path):
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.std() > 0.05  # text and figures, not blank


@pytest.mark.parametrize("width", [1280, 800])
def test_wide_tables_scroll_in_their_own_box_never_the_page(report, tmp_path, width):
    """A table wider than the window (the one-way DSA: 20 columns) scrolls sideways inside
    its own box; the page itself never scrolls sideways, so no text is cut at the window's
    edge. Measured in the browser: a script added to a copy of the report records the widths."""
    import re

    probe = """<script>window.addEventListener('load', () => {
      const doc = document.documentElement;
      const boxes = [...document.querySelectorAll('table')].filter(
        t => t.scrollWidth > t.clientWidth + 1).length;
      const p = document.createElement('pre'); p.id = 'probe';
      p.textContent = doc.scrollWidth + ' ' + doc.clientWidth + ' ' + boxes;
      document.body.appendChild(p);});</script>"""
    copy = tmp_path / "probe.html"
    copy.write_text(report.read_text().replace("</body>", probe + "</body>"))
    dom = _chromium(
        f"--window-size={width},1600", "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()
    ).stdout
    page_width, window_width, scrolling = map(
        int, re.search(r'id="probe">([^<]*)<', dom)[1].split()
    )
    assert page_width <= window_width
    assert scrolling >= 1  # the DSA table is wider than any of these windows


@pytest.fixture(scope="module")
def covid_report(tmp_path_factory):
    from tests.conftest import ROOT

    out = tmp_path_factory.mktemp("browser") / "covid"
    run_workbook(ROOT / "inputs" / "msc_covid19.xlsx", psa_samples=100, seed=1).write(out)
    return out / "report.html"


@pytest.mark.parametrize("width", [1280, 800])
def test_no_identifier_in_a_table_is_cut_across_lines(covid_report, tmp_path, width):
    """Cells such as msc_cells or smr_post_discharge_early stay whole on one line (a cell
    used to read 'msc_cell' / 's' when its column was squeezed); only lists and paths
    (a+b+c, a/b) and tokens longer than 30 characters wrap. Measured in the browser: the
    number of line boxes of each cell's text."""
    import json
    import re

    probe = """<script>window.addEventListener('load', () => {
      const cut = [];
      for (const td of document.querySelectorAll('td')) {
        const text = td.textContent.trim();
        if (/[\\s\\/+,&?=]/.test(text) || text.length > 30) continue;
        const range = document.createRange(); range.selectNodeContents(td);
        if (range.getClientRects().length > 1) cut.push(text);
      }
      const p = document.createElement('pre'); p.id = 'probe';
      p.textContent = JSON.stringify(cut); document.body.appendChild(p);});</script>"""
    copy = tmp_path / "probe.html"
    copy.write_text(covid_report.read_text().replace("</body>", probe + "</body>"))
    dom = _chromium(
        f"--window-size={width},1600", "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()
    ).stdout
    cut = json.loads(re.search(r'id="probe">([^<]*)<', dom)[1].replace("&amp;", "&"))
    assert cut == []
