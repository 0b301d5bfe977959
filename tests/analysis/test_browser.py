"""The report opens offline in a real browser and every image decodes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gwsload.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")

_PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const decoded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  const out = document.createElement('pre');
  out.id = 'probe';
  const heads = [...document.querySelectorAll('h2,h3')].map(h => h.textContent).join('|');
  const width = document.body.scrollWidth;
  out.textContent = `images=${images.length} decoded=${decoded} width=${width} heads=${heads};`;
  document.body.appendChild(out);
});
</script>"""


def _chromium(args: list[str], profile: Path) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


#: the sections every report has, in the page's own words
_SECTIONS = (
    "Service-level objectives",
    "Validity",
    "Load",
    "Stages",
    "Headline (measured period)",
    "Latency bands",
    "Setup and session operations",
    "Over time",
    "Distributions",
    "Outcome accounting",
    "Drift",
)


@pytest.mark.parametrize("kind", ["report", "capacity", "compare", "harness-run"])
def test_every_image_decodes_in_chromium(runs: dict[str, Path], tmp_path: Path, kind: str) -> None:
    if kind != "compare":
        folder = {
            "report": runs["faulty"],
            "capacity": runs["capacity"],
            "harness-run": Path(__file__).parent / "data" / "faulty-smoke",
        }[kind]
        assert main(["report", str(folder), "--out", str(tmp_path)]) == 0
        page = tmp_path / "report.html"
    else:
        assert (
            main(["compare", str(runs["baseline"]), str(runs["slower"]), "--out", str(tmp_path)])
            == 1
        )
        page = tmp_path / "compare.html"
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    dom = _chromium(
        ["--window-size=1200,900", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        tmp_path / "profile",
    )
    match = re.search(r"images=(\d+) decoded=(\d+) width=(\d+) heads=([^;]*);", dom)
    assert match, dom[-500:]
    images, decoded, width = map(int, match.groups()[:3])
    if kind != "compare":
        heads = set(match.group(4).split("|"))
        assert set(_SECTIONS) <= heads, set(_SECTIONS) - heads
        assert ("Capacity" in heads) == (kind == "capacity")
    assert images >= 4 and decoded == images
    assert width <= 1200  # nothing wider than the window: no sideways scrolling
    shot = tmp_path / "shot.png"
    _chromium(
        ["--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile2"
    )
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
