"""The patient report of a simulated course: every section, embedded plots that decode,
numbers that match the catalogue, no identity; and the page as headless Chromium renders
it (loads offline, sections and images present, pixels drawn)."""

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.cli import main
from mirrorvr.errors import ExportError
from mirrorvr.outcomes.report import SECTIONS, build_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(simulated_course, tmp_path_factory):
    data_dir, ids = simulated_course
    out = tmp_path_factory.mktemp("report") / "sub-sim07.html"
    assert main(["report", "sub-sim07", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    return data_dir, ids, out, out.read_text(encoding="utf-8")


def _images(text):
    return re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)


def test_every_section_is_there_with_decodable_plots(report):
    from PIL import Image

    _, _, _, text = report
    for section in SECTIONS:
        assert f"<section id='{section}'>" in text
    images = _images(text)
    assert len(images) >= 7  # NRS, VAS, PRI, accuracy, confusion, tests, dose, latency
    for data in images:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
        assert image.size[0] > 200 and image.size[1] > 100
    # nothing is fetched from anywhere: it opens offline
    assert not re.search(r"(src|href)=['\"](https?:|//)", text)


def test_the_numbers_are_the_catalogue_s(report):
    data_dir, ids, _, text = report
    with Catalog.open(data_dir) as catalog:
        sessions = catalog.sessions("sub-sim07")
        nrs = catalog.outcomes(pseudonym="sub-sim07", instrument="nrs")
    assert "3 of 4 planned sessions done (75 %)" in text
    accuracy = 100 * sessions[1].summary["decoder"]["cv_accuracy"]
    assert f"{accuracy:.1f} %" in text
    baseline = [o.scores["intensity"] for o in nrs if o.timepoint == "pre"][0]
    last_pre = [o.scores["intensity"] for o in nrs if o.timepoint == "pre"][-1]
    change = round(100 * (baseline - last_pre) / baseline)
    assert f"<td>{change} %</td>" in text
    assert "Mustermann" not in text and "1961" not in text


def test_a_patient_without_sessions_is_refused(simulated_course):
    data_dir, _ = simulated_course
    with Catalog.open(data_dir) as catalog, pytest.raises(ExportError, match="sub-none"):
        build_report(catalog, "sub-none")


def test_headless_chromium_renders_the_page(report, tmp_path):
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; ./dev test "
                    "installs it)")
    _, _, path, text = report
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--allow-file-access-from-files"]
    dom = subprocess.run(flags + ["--dump-dom", path.as_uri()], capture_output=True,
                         text=True, timeout=180, check=True).stdout
    for section in SECTIONS:
        assert re.search(rf"<section id=\"{section}\">", dom), section
    assert len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", dom)) == len(_images(text))
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri()],
                   capture_output=True, timeout=180, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1600, 1200)
    header = pixels[10:60, 10:400].reshape(-1, 3)
    assert np.mean(np.all(np.abs(header.astype(int) - (18, 53, 91)) < 8, axis=1)) > 0.8
    # plots are drawn: many colours below the header, not a blank page
    body = pixels[200:].reshape(-1, 3)[::7]
    assert len({tuple(p) for p in body}) > 200


def test_pain_rows_are_shaded_by_the_immpact_band_they_reach(report):
    """Each NRS row's class is the band of its 'before' value's reduction from baseline:
    >= 50 % substantial, >= 30 % moderate, else none."""
    data_dir, _, _, text = report
    with Catalog.open(data_dir) as catalog:
        pre = [o.scores["intensity"] for o in catalog.outcomes(pseudonym="sub-sim07",
                                                              instrument="nrs")
               if o.timepoint == "pre"]
    pain = text[text.index("<section id='pain'>"):]
    nrs_table = pain[pain.index("<table>"):pain.index("</table>")]
    rows = re.findall(r"<tr(?: class='([a-z-]+)')?><td>(\d+)</td><td>([^<]*)</td>", nrs_table)
    assert [int(n) for _, n, _ in rows] == list(range(1, len(pre) + 1))
    baseline = pre[0]
    for (cls, _, before), value in zip(rows, pre, strict=True):
        assert float(before) == pytest.approx(value)
        change = (baseline - value) / baseline
        expected = ("band-substantial" if change >= 0.5 else "band-moderate" if change >= 0.3
                    else "")
        assert cls == expected, (value, baseline, cls)
