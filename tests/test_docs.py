"""The docs cannot drift from the code: the config reference is regenerated and compared with
the committed docs/config.md, and every ```bash block of docs/*.md that can run offline is run."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_config_reference",
                                                  os.path.join(ROOT, "tools", "make_config_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


def test_config_reference_is_up_to_date(gen):
    with open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8") as f:
        committed = f.read()
    assert gen.render() == committed, (
        "docs/config.md differs from the config schema: run `python tools/make_config_reference.py` "
        "and commit docs/config.md")


def test_config_reference_lists_every_key_with_its_default(gen):
    text = gen.render()
    assert "| `lambda_identity` | float or int | `0.5` |" in text
    assert "| `max_iters` | int or null | `null` | >= 1 |" in text
    assert "| `inference_mode` | str | `eval` | `eval`, `train_norm` |" in text
    for heading in ("## `model` with `name: CycleGANModel`", "## `model.generator` with `name: unet_256`",
                    "## `dataset.train` with `name: AlignedDataset`", "## `lr_scheduler`", "## `eval`"):
        assert heading in text
    assert "| **required** |" in text  # dataroot, name
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert all(not line.rstrip(" |").endswith("|") for line in rows), "a key without a meaning"


def test_undocumented_key_stops_the_generator(gen, monkeypatch):
    descriptions = dict(gen.DESCRIPTIONS)
    del descriptions["model[CycleGANModel].pool_size"]
    monkeypatch.setattr(gen, "DESCRIPTIONS", descriptions)
    with pytest.raises(gen.MissingDescription, match=r"no description[\s\S]*model\[CycleGANModel\]\.pool_size"):
        gen.render()


def test_description_of_a_removed_key_stops_the_generator(gen, monkeypatch):
    monkeypatch.setattr(gen, "DESCRIPTIONS", {**gen.DESCRIPTIONS, "train.lamda": "typo"})
    with pytest.raises(gen.MissingDescription, match=r"match no config key[\s\S]*train\.lamda"):
        gen.render()


def test_docstring_args_parser(gen):
    def fn(a, b, c, d):
        """Title.

        Args:
            a: first ``thing``; b: second.
            c, d: shared text
                continued. None = all.
        """
    single, shared = gen._docstring_args(fn)
    assert single == {"a": "first `thing`", "b": "second"}
    assert shared == {"c": "shared text continued. null = all", "d": "shared text continued. null = all"}


# --------------------------------------------------------------------------- commands in the docs

#: pages whose commands are run, relative to the repository root
PAGES = ["README.md"] + sorted(f"docs/{f}" for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
#: what a block may say it needs (``# needs: internet``); such blocks are not run
NEEDS = {"internet", "dataset", "gpu", "several machines", "your files", "install", "a training run"}
#: pages whose blocks are not run, and why (they are not this test's to mark)
NOT_RUN = {"docs/weights.md": "its examples name the user's own checkpoint files"}
SLOW = os.environ.get("PPIMG2IMG_SLOW_DOCS") == "1"
#: stops a hung block; no speed limit: a block takes seconds to a minute, more on a busy machine
BLOCK_TIMEOUT = 900


def doc_blocks(path):
    """``[(line, language, code)]`` of the ```bash and ```python blocks of a Markdown file."""
    text = open(path, encoding="utf-8").read()
    blocks = []
    for m in re.finditer(r"^```(bash|python)[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S):
        blocks.append((text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)))
    return blocks


def block_needs(code):
    """What a block needs that a test machine lacks (``# needs: a, b``), and whether it is ``# slow``."""
    needs = set()
    for m in re.finditer(r"#\s*needs:\s*([^\n]+)", code):
        needs |= {n.strip() for n in m.group(1).split(",")}
    return needs, bool(re.search(r"^\s*#\s*slow\b", code, re.M))


def scratch_checkout(tmp_path):
    """A folder that looks like the repository root to the docs' commands: the code, configs and
    tools linked in, ``data/`` a real folder (generated datasets land there), a ``ppimg2img``
    command on PATH, and the weights cache inside the folder (nothing is downloaded)."""
    for name in ("configs", "tools", "applications", "benchmarks", "ppimg2img", "tests", "docs", "notebooks"):
        if os.path.exists(os.path.join(ROOT, name)):
            os.symlink(os.path.join(ROOT, name), tmp_path / name)
    (tmp_path / "data").mkdir()
    for f in os.listdir(os.path.join(ROOT, "data")):
        if f.endswith(".py"):
            os.symlink(os.path.join(ROOT, "data", f), tmp_path / "data" / f)
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "ppimg2img"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ppimg2img.cli "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "PYTEST_"))}
    env.update(PATH=f"{bin_dir}:{os.path.dirname(sys.executable)}:{env.get('PATH', '')}",
               PYTHONPATH=ROOT, PPIMG2IMG_HOME=str(tmp_path / ".cache"), MPLBACKEND="Agg",
               PPIMG2IMG_DATASET_URL="http://127.0.0.1:9/")  # a dataset download fails at once
    return env


#: runs the ```python blocks of one page in one interpreter (Paddle is imported once per page),
#: each block in a fresh namespace, as a reader pasting it into a new session would
_PY_WORKER = r"""
import contextlib, io, json, os, sys, traceback
# replies go to a copy of fd 1; fd 1 itself goes to the log (fd 2), so that what C++ code prints
# there (oneDNN's 'ReduceMeanCheckIfOneDNNSupport' notes) cannot corrupt the replies
reply = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    buf = io.StringIO()
    ok = True
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            exec(compile(json.loads(line), "<doc block>", "exec"), {"__name__": "__main__"})
        except BaseException:
            ok = False
            traceback.print_exc()
    reply.write(json.dumps({"ok": ok, "output": buf.getvalue()}) + "\n")
    reply.flush()
"""


class _PythonWorker:
    def __init__(self, cwd, env, log):
        self.proc = subprocess.Popen([sys.executable, "-c", _PY_WORKER], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)

    def run(self, code, timeout):
        self.proc.stdin.write(json.dumps(code) + "\n")
        self.proc.stdin.flush()
        answer = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not answer:
            self.proc.kill()
            return None
        if not answer[0]:
            return {"ok": False, "output": f"the Python process ended (exit {self.proc.wait()})"}
        return json.loads(answer[0])

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.mark.docs_commands  # about 4 CPU-minutes in all (-m "not docs_commands" leaves them out)
@pytest.mark.parametrize("doc", PAGES)
def test_doc_commands_run(doc, tmp_path):
    """Run the page's offline blocks in order, in one scratch folder (a later block may use what
    an earlier one made). A failure names the page, the block's line and its output."""
    if doc in NOT_RUN:
        pytest.skip(f"{doc}: {NOT_RUN[doc]}")
    blocks = doc_blocks(os.path.join(ROOT, doc))
    if not blocks:
        pytest.skip(f"{doc} shows no commands")
    env = scratch_checkout(tmp_path)
    worker = None
    try:
        for line, lang, code in blocks:
            needs, slow = block_needs(code)
            unknown = needs - NEEDS
            assert not unknown, f"{doc}:{line}: unknown '# needs:' value {unknown}; use one of {sorted(NEEDS)}"
            if needs or (slow and not SLOW):
                continue
            where = f"{doc}:{line}"
            t0 = time.time()
            if lang == "python":
                if worker is None:
                    worker = _PythonWorker(tmp_path, env, open(tmp_path / ".python_worker.log", "w"))
                res = worker.run(code, BLOCK_TIMEOUT)
                if res is None:
                    worker = None
                    pytest.fail(f"{where}: the python block ran longer than {BLOCK_TIMEOUT} s (hung?); "
                                f"use tiny settings or mark it '# slow'")
                assert res["ok"], (f"{where}: the python block failed ({time.time() - t0:.1f} s):\n{code}\n"
                                   f"--- output (end)\n{res['output'][-4000:]}")
                continue
            try:
                res = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                                     capture_output=True, text=True, timeout=BLOCK_TIMEOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{where}: the bash block ran longer than {BLOCK_TIMEOUT} s (hung?); "
                            f"use tiny settings or mark it '# slow'")
            assert res.returncode == 0, (
                f"{where}: the bash block failed (exit {res.returncode}, {time.time() - t0:.1f} s):\n{code}\n"
                f"--- stdout (end)\n{res.stdout[-3000:]}\n--- stderr (end)\n{res.stderr[-3000:]}")
    finally:
        if worker is not None:
            worker.close()


def test_doc_blocks_are_found_and_markers_read():
    blocks = doc_blocks(os.path.join(ROOT, "docs", "cyclegan.md"))
    assert [lang for _, lang, _ in blocks].count("bash") >= 3
    assert block_needs("# needs: internet, gpu\nls") == ({"internet", "gpu"}, False)
    assert block_needs("# slow\npython tools/main.py") == (set(), True)
    assert block_needs("ls  # list") == (set(), False)


def test_python_blocks_run_in_fresh_namespaces_and_errors_are_reported(tmp_path):
    worker = _PythonWorker(tmp_path, dict(os.environ), subprocess.DEVNULL)
    try:
        assert worker.run("x = 1\nprint('hello', x)", 30) == {"ok": True, "output": "hello 1\n"}
        # what native code writes to fd 1 (as oneDNN does) does not break the replies
        assert worker.run("import os\nos.write(1, b'ReduceMeanCheckIfOneDNNSupport\\n')", 30)["ok"]
        res = worker.run("print(x)", 30)  # the previous block's names are gone
        assert not res["ok"] and "NameError" in res["output"]
        res = worker.run("open('missing.txt')", 30)
        assert not res["ok"] and "missing.txt" in res["output"]
        # a block that never ends (waits on an Event nobody sets) is stopped at the timeout: killed
        assert worker.run("import threading\nthreading.Event().wait()", 0.5) is None
    finally:
        worker.close()


def test_doc_links_resolve():
    """Relative links of README.md and docs/*.md point at files that exist (images, other pages, code)."""
    broken = []
    for doc in PAGES:
        text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
        text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:|#", target):
                continue
            if not os.path.exists(os.path.join(ROOT, os.path.dirname(doc), target.split("#")[0])):
                broken.append(f"{doc}: {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _readme_test_command():
    """The one command of README.md's "Run the tests" block."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"\*\*Run the tests\*\*.*?^```bash[ \t]*\n(.*?)^```", text, re.M | re.S)
    assert m, "README.md has no ```bash block under **Run the tests**"
    lines = [line.strip() for line in m.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(lines) == 1, f"the README's test block should hold one command, found {lines}"
    return lines[0]


def test_ci_runs_the_readme_test_command():
    """.ci/run installs and tests with exactly the README's line: a new user and CI run the same
    thing. The script itself says what it would run (--print-command), so this checks its real
    selection logic, not a copy of it; and it must execute that command, not another one."""
    readme_cmd = _readme_test_command()
    assert "python -m pytest" in readme_cmd and re.search(r"\btests\b", readme_cmd), readme_cmd
    proc = subprocess.run(["bash", os.path.join(ROOT, ".ci", "run"), "--print-command"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f".ci/run finds no test command in README.md ({readme_cmd!r}) {proc.stderr}"
    assert proc.stdout.strip() == readme_cmd, (
        f".ci/run would run {proc.stdout.strip()!r} but README.md says {readme_cmd!r}")
    script = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    runs = [line.strip() for line in script.splitlines() if line.strip().startswith(("eval", "python -m pytest"))]
    assert runs == ['eval "$test_cmd"'], f".ci/run must run the README's command and nothing else: {runs}"
