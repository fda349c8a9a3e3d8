"""samples/explore.ipynb runs top to bottom in a fresh kernel, and is committed without outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

KERNEL = "uncertain-tests"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec for this interpreter, found through JUPYTER_PATH: nothing is installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "uncertain tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        patch.setenv("MPLBACKEND", "Agg")
        yield KERNEL


def test_committed_notebook_has_no_outputs(samples_dir: Path) -> None:
    notebook = nbformat.read(samples_dir / "explore.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_top_to_bottom(samples_dir: Path, kernel_name: str) -> None:
    notebook = nbformat.read(samples_dir / "explore.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=300,
        resources={"metadata": {"path": str(samples_dir)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    # The document's heat map, the span tables and the reliability diagram all render.
    assert any(
        "<unsure" not in o.data.get("text/html", "") and "text/html" in o.data for o in shown
    )
    assert any("image/png" in o.data for o in shown)
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "expected calibration error" in printed
    assert "<document>" in printed  # the chat messages were built
