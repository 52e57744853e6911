"""Screenshots of a sample report.html for docs/report.md: `python docs/make_report_figures.py [RUN_DIR]`.

Without RUN_DIR it trains a small `baseline_v2 -p --seeds 4` run (two experts, two epochs, the synthetic data
set) in a temporary folder first. Headless Chromium draws the summary page and one expert's section, each
alone on the page (a style hides the rest), into docs/figures/report_summary.png and report_expert.png.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"
SHOTS = {  # file -> (what stays visible, window height in pixels)
    "report_summary.png": ("h1, #summary", 1900),
    "report_expert.png": ("#expert-0", 1900),
}


def sample_run(work: Path) -> Path:
    """A finished four-seed run of experts 0 and 4 on a small synthetic data set, made in `work`."""
    sys.path.insert(0, str(ROOT))
    from neuro_trigger.data import splits

    files = splits.write_synthetic(work / "data", {"train": 20000, "val": 5000, "test": 5000}, seed=7)
    subprocess.run([sys.executable, str(ROOT / "neuro_trigger" / "main.py"), "baseline_v2", "-p", "--seeds", "4",
                    "-m", "epochs=2", "experts=[0,4]", "--log-root", str(work / "log"), "-d", "sample report",
                    "--data", *[str(files[s][0]) for s in splits.SPLITS]], check=True, stdout=subprocess.DEVNULL)
    return next((work / "log" / "baseline_v2").glob("version_*"))


def screenshot(report: Path, visible: str, height: int, out: Path, work: Path) -> None:
    """`visible` (CSS selectors) of `report` alone on a 1400-pixel-wide page, as a PNG."""
    page = work / f"{out.stem}.html"
    hide = f"<style>body > *:not({visible}){{display:none}} section{{border:0;margin:0}}</style>"
    page.write_text(report.read_text().replace("</head>", hide + "</head>"))
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("error: headless Chromium is needed (chromium on the PATH)")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=10000",
                    f"--user-data-dir={work / 'profile'}", f"--window-size=1400,{height}", f"--screenshot={out}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nt-report-") as folder:
        work = Path(folder)
        run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_run(work)
        for name, (visible, height) in SHOTS.items():
            screenshot(run_dir / "report.html", visible, height, OUT / name, work)
            print(OUT / name)


if __name__ == "__main__":
    main()
