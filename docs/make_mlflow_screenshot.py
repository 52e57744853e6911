"""The MLflow UI's run list, taken in headless Chromium: `python docs/make_mlflow_screenshot.py
[--out docs/figures/mlflow_runs.png] [--chromium /usr/bin/chromium]`.

It starts a real `mlflow server` on loopback (SQLite backend store, artifacts in a local folder) in a temporary
folder, sends it one run (`main.py baseline_v2 -p --tracking-uri URI`) and a sweep of two trials (`sweep.py ...
--tracking-uri URI`: a parent run and two child runs) through the product's own CLIs on the embedded data set,
opens the experiment's run list in headless Chromium (the UI is a JavaScript app: the script waits until the runs
are drawn, then opens the sweep's child runs), saves the screenshot and stops the server. docs/tracking.md shows
the figure.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SMALL = ["epochs=3", "experts=[0,1]"]  # a few epochs of two experts: a run in seconds, still a real run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on a free loopback port, answered /health; its log in folder/server.log."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = open(folder / "server.log", "a")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri",
         f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400  # a cold server on a busy machine takes minutes
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"mlflow server ended:\n{(folder / 'server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as answer:
                if answer.status == 200:
                    return server, uri
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise SystemExit("mlflow server did not answer /health in 400 s")


def cli(*args: str) -> None:
    """One of the product's CLIs, as a user runs it; a failure ends the script with its stderr."""
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {result.returncode}\n{result.stderr[-3000:]}")


class Browser:
    """Headless Chromium driven through its DevTools pipe (`--remote-debugging-pipe`: JSON messages ending in a NUL
    byte, commands on file descriptor 3, answers on 4), so that the script can wait until the run list is drawn
    and open the sweep's child runs before the screenshot; no library beyond the standard one."""

    def __init__(self, chromium: str, profile: Path):
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()

        def on_fds_3_and_4() -> None:  # in the child, before exec
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"], pass_fds=(3, 4), preexec_fn=on_fds_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(answers_write)
        self.commands, self.answers = os.fdopen(commands_write, "wb"), os.fdopen(answers_read, "rb")
        self.last_id, self.pending, self.session = 0, b"", None

    def call(self, method: str, **params):
        """Send one command (to the page once `session` is set) and return its result; events are skipped."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        self.commands.write(json.dumps(message).encode() + b"\0")
        self.commands.flush()
        while True:
            while b"\0" not in self.pending:
                chunk = self.answers.read1(1 << 16)
                if not chunk:
                    raise SystemExit(f"chromium ended while answering {method}")
                self.pending += chunk
            raw, self.pending = self.pending.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise SystemExit(f"chromium: {method}: {answer['error']}")
                return answer["result"]

    def open(self, url: str, width: int, height: int) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 180) -> None:
        """Until the JavaScript `expression` is true on the page."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"):
            if time.monotonic() > deadline:
                raise SystemExit(f"the MLflow UI did not show {what} in {timeout:.0f} s")
            time.sleep(0.5)

    def screenshot(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.call("Browser.close")
        self.process.wait(timeout=60)


# the expander of the sweep's parent run (MLflow 3's run name cell), and the assistant panel's close button
SHOW_CHILD_RUNS = """(() => {
  const expand = document.querySelector('button[data-component-id*="runnamecellrenderer"]');
  if (expand) expand.click();
  const close = [...document.querySelectorAll('button')].find(b => b.getAttribute('aria-label') === 'Close');
  if (close) close.click();
  return !!expand; })()"""


def screenshot(chromium: str, url: str, out: Path, profile: Path, size: str) -> None:
    """The experiment's run list at `url` once drawn, the sweep's child runs shown, saved as PNG."""
    width, height = (int(v) for v in size.split(","))
    browser = Browser(chromium, profile)
    try:
        browser.open(url, width, height)
        runs = "document.querySelectorAll('a[href*=\"/runs/\"]').length"  # the links of the run names
        browser.wait_for(f"document.body.innerText.includes('sweep lr') && {runs} >= 2", "the run and the sweep")
        if not browser.evaluate(SHOW_CHILD_RUNS):
            raise SystemExit("the MLflow UI shows no expander for the sweep's child runs")
        browser.wait_for(f"{runs} >= 4", "the sweep's two child runs", timeout=60)
        time.sleep(2)  # the row animation
        browser.screenshot(out)
    finally:
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "figures" / "mlflow_runs.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--window-size", default="1500,700", help="WIDTH,HEIGHT of the browser window in pixels")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mlflow-screenshot-"))
    server, uri = start_server(folder)
    try:
        log_root = str(folder / "log")
        cli("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "a tracked run", "--log-root", log_root,
            "--tracking-uri", uri, "-m", *SMALL)
        cli("neuro_trigger/sweep.py", "baseline_v2", "-m", "learning_rate=0.01,0.02", *SMALL, "--name", "lr",
            "--log-root", log_root, "--tracking-uri", uri)
        import mlflow

        experiment = mlflow.MlflowClient(uri).get_experiment_by_name("baseline_v2").experiment_id
        screenshot(args.chromium, f"{uri}/#/experiments/{experiment}/runs", args.out, folder / "chromium",
                   args.window_size)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its job workers
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
