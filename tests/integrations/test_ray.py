"""Ray Data: one row per file, errors per row, results equal to uncertain.read.

One local Ray session (2 CPUs) serves the whole module: starting Ray costs seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import ray
import ray.data

from uncertain.api import read
from uncertain.document import Document
from uncertain.integrations.ray import (
    TranscribeConfig,
    Transcriber,
    result_schema,
    transcribe_dataset,
)
from uncertain.render import render

# Ray Data's own configuration warns about its deprecated settings on first use.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")

# Results depend a little on the thread count (numpy's BLAS and CTranslate2 sum in another
# order on one thread), so the actors get this process's: OMP_NUM_THREADS, else every core.
THREADS = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def span_rows(doc: Document) -> list[dict[str, Any]]:
    rows = []
    for span in doc.spans:
        mark = doc.mark_of(span.id)
        rows.append(
            {
                "id": span.id,
                "text": span.text,
                "confidence": span.confidence,
                "start": span.start,
                "end": span.end,
                "time_start": span.time.start if span.time else None,
                "time_end": span.time.end if span.time else None,
                "page": span.box.page if span.box else None,
                "mark_reason": mark.reason if mark else None,
            }
        )
    return rows


def test_dataset_matches_read_and_reports_bad_files(
    ray_session: None, samples_dir: Path, corrupt_wav: Path, tmp_path: Path
) -> None:
    good = [
        samples_dir / "synthetic_drug.wav",
        samples_dir / "jfk.wav",
        samples_dir / "clean_page.png",
    ]
    paths = [good[0], corrupt_wav, *good[1:]]
    dataset = transcribe_dataset(
        paths, batch_size=2, concurrency=2, cpu_threads=THREADS
    ).materialize()
    rows = {row["path"]: row for row in dataset.take_all()}
    assert sorted(rows) == sorted(str(p) for p in paths)

    bad = rows[str(corrupt_wav)]
    assert bad["status"] == "error"
    assert str(corrupt_wav) in bad["error"]
    assert bad["text"] is None and bad["document_json"] is None
    assert len(bad["spans"]) == 0

    for path in good:
        row = rows[str(path)]
        expected = read(path)
        assert row["status"] == "ok" and row["error"] is None
        assert row["document_json"] == expected.to_json()
        assert row["text"] == expected.text
        assert row["rendered"] == render(expected, "inline")
        assert list(row["spans"]) == span_rows(expected)

    # The user's one more line: the rows land in Parquet with a typed schema.
    dataset.write_parquet(str(tmp_path / "out"))
    table = pq.read_table(tmp_path / "out")
    assert table.num_rows == len(paths)
    assert table.schema.field("spans").type == result_schema().field("spans").type
    assert sorted(table.column("status").to_pylist()) == ["error", "ok", "ok", "ok"]


def test_transcribe_dataset_checks_its_arguments_before_running(samples_dir: Path) -> None:
    with pytest.raises(TypeError, match="modle"):
        transcribe_dataset([samples_dir / "jfk.wav"], modle="base")
    with pytest.raises(ValueError, match="style"):
        transcribe_dataset([samples_dir / "jfk.wav"], style="fancy")
    with pytest.raises(ValueError, match="batch_size"):
        transcribe_dataset([samples_dir / "jfk.wav"], batch_size=0)
    with pytest.raises(ValueError, match="no files"):
        transcribe_dataset([])


def test_transcriber_takes_numpy_pandas_and_bytes_batches(
    samples_dir: Path, jfk_doc: Document
) -> None:
    transcriber = Transcriber(TranscribeConfig(style=None, warm_up=False))
    jfk = samples_dir / "jfk.wav"
    missing = samples_dir / "missing.wav"
    table = transcriber({"path": np.array([str(jfk), str(missing)])})
    assert table.schema == result_schema()
    assert table.column("status").to_pylist() == ["ok", "error"]
    assert table.column("text").to_pylist()[0] == jfk_doc.text
    assert table.column("rendered").to_pylist()[0] == jfk_doc.text  # style None: plain
    assert "missing.wav" in table.column("error").to_pylist()[1]

    # Bytes (as ray.data.read_binary_files gives them) are read by content.
    blobs = pd.DataFrame({"bytes": [jfk.read_bytes(), b"not audio"], "path": ["a.wav", "b.wav"]})
    table = transcriber(blobs)
    assert table.column("path").to_pylist() == ["a.wav", "b.wav"]
    assert table.column("status").to_pylist() == ["ok", "error"]
    assert table.column("text").to_pylist()[0] == jfk_doc.text

    with pytest.raises(ValueError, match="'path' or a 'bytes' column"):
        transcriber({"file": np.array(["x"])})


def test_an_unexpected_engine_failure_stays_in_its_row(
    samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transcriber = Transcriber(TranscribeConfig(warm_up=False))
    real = transcriber.read_one

    def flaky(source: str | bytes) -> Document:
        # A fault the real engine cannot be made to produce on demand.
        if str(source).endswith("noise.wav"):
            raise RuntimeError("CUDA out of memory")
        return real(source)

    monkeypatch.setattr(transcriber, "read_one", flaky)
    paths = [str(samples_dir / "noise.wav"), str(samples_dir / "jfk.wav")]
    table = transcriber({"path": np.array(paths)})
    assert table.column("status").to_pylist() == ["error", "ok"]
    assert table.column("error").to_pylist()[0] == "RuntimeError: CUDA out of memory"
