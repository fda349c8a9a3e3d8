"""Ray Data: transcribe and OCR many files in parallel, on one machine or a cluster.

    from uncertain.integrations.ray import transcribe_dataset

    ds = transcribe_dataset(paths, num_cpus=1)       # lazy; nothing runs yet
    ds.write_parquet("out/")                         # one row per file

`Transcriber` is a callable class for `Dataset.map_batches`: each actor builds its engine
once (`uncertain.api` caches engines per process) and turns a batch with a `path` column (or a
`bytes` column, as `ray.data.read_binary_files(..., include_paths=True)` gives, for files in
object storage) into Arrow columns:

| column | type | holds |
| --- | --- | --- |
| `path` | string | the input path (null for bytes without a path) |
| `status` | string | `ok`, or `error` when this file failed |
| `error` | string | the error message (null when ok) |
| `text` | string | the plain transcript, `Document.text` |
| `rendered` | string | the text rendered for a prompt in the configured style |
| `spans` | list<struct> | per span: `id`, `text`, `confidence`, `start`, `end`, |
| | | `time_start`, `time_end`, `page`, `mark_reason` |
| `document_json` | string | the full document (the JSON contract; `Document.from_json` reads it) |

One bad file never fails a batch: it gets `status="error"`, its message, and empty outputs.
Rows come back in the order actors finish them, not the input order (match them by `path`,
or set `ray.data.DataContext.get_current().execution_options.preserve_order = True`).

Numbers depend slightly on the thread count (numpy's BLAS in feature extraction and
CTranslate2's kernels sum in another order on one thread than on several), so
`transcribe_dataset` starts each actor with `OMP_NUM_THREADS` set to `cpu_threads` (default:
the CPUs each actor reserves); run other processes with the same `OMP_NUM_THREADS` when you
compare their numbers with these.

On a cluster, connect first (`ray.init(address="auto")`, or set `RAY_ADDRESS`), then call
`transcribe_dataset` as above. For GPUs pass `num_gpus=1, device="cuda"` (one GPU per actor;
Ray sets `CUDA_VISIBLE_DEVICES` for each). Needs the `ray` extra.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uncertain.document import Document
from uncertain.errors import UsageError
from uncertain.integrations import check_style, page_content, read_options

if TYPE_CHECKING:
    import ray.data

    from uncertain.api import Device
    from uncertain.render import Style

__all__ = ["INSTALL_HINT", "TranscribeConfig", "Transcriber", "result_schema", "transcribe_dataset"]

INSTALL_HINT = 'pip install "uncertain-ingest[ray]"'


def _import(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise ImportError(
            f"uncertain's Ray Data support needs ray[data]: {INSTALL_HINT}"
        ) from error


@dataclass(frozen=True)
class TranscribeConfig:
    """What each actor reads files with: `uncertain.read` options plus the render style.

    Small and picklable, so Ray ships it to every actor. `cpu_threads` sets
    `OMP_NUM_THREADS` before the engine loads, for CTranslate2 (`transcribe_dataset` also
    sets it when the actor process starts, which numpy needs); None keeps Ray's default, one
    thread per CPU requested. `warm_up` loads the Whisper model when the actor starts, so the
    first batch does not pay for it.
    """

    model: str = "tiny.en"
    language: str | None = None
    device: Device = "auto"
    alternatives: int = 0
    cross_check: str | None = None
    calibration: str | None = None
    threshold: float | None = None
    dpi: int = 300
    fuse: bool = True
    style: Style | None = "inline"
    cpu_threads: int | None = None
    warm_up: bool = True

    def read_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for `uncertain.api.read`."""
        skip = {"style", "cpu_threads", "warm_up"}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip
        }

    @classmethod
    def from_options(
        cls, style: Style | None = "inline", cpu_threads: int | None = None, **options: Any
    ) -> TranscribeConfig:
        """A config from `uncertain.read` keywords; unknown ones raise `TypeError` now."""
        check_style(style)
        checked = read_options(options)
        if "calibration" in checked and checked["calibration"] is not None:
            # Only a file path travels to the actors; a Calibrator object might not pickle.
            if not isinstance(checked["calibration"], (str, Path)):
                raise TypeError("calibration must be a file path for Ray Data")
            checked["calibration"] = str(checked["calibration"])
        return cls(style=style, cpu_threads=cpu_threads, **checked)


def result_schema() -> Any:
    """The Arrow schema (a `pyarrow.Schema`) of what `Transcriber` returns."""
    pa = _import("pyarrow")
    span = pa.struct(
        [
            ("id", pa.int64()),
            ("text", pa.string()),
            ("confidence", pa.float64()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("time_start", pa.float64()),
            ("time_end", pa.float64()),
            ("page", pa.int64()),
            ("mark_reason", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("path", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("text", pa.string()),
            ("rendered", pa.string()),
            ("spans", pa.list_(span)),
            ("document_json", pa.string()),
        ]
    )


def _span_rows(doc: Document) -> list[dict[str, Any]]:
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
                "time_start": None if span.time is None else span.time.start,
                "time_end": None if span.time is None else span.time.end,
                "page": None if span.box is None else span.box.page,
                "mark_reason": None if mark is None else mark.reason,
            }
        )
    return rows


def _columns(batch: Any) -> dict[str, list[Any]]:
    """A batch in any of Ray's formats (numpy dict, pandas, Arrow) as lists per column."""
    if hasattr(batch, "to_pydict"):  # pyarrow.Table
        return dict(batch.to_pydict())
    if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # pandas.DataFrame
        return {str(name): list(batch[name]) for name in batch.columns}
    return {str(name): list(values) for name, values in dict(batch).items()}


def _message(error: Exception) -> str:
    from uncertain.errors import UncertainError

    # uncertain's own errors already name the file and the fix; others get their type.
    return str(error) if isinstance(error, UncertainError) else f"{type(error).__name__}: {error}"


class Transcriber:
    """A `map_batches` callable: files in (`path` or `bytes` column), one result row per file.

    Use it through `transcribe_dataset`, or directly:
    `ds.map_batches(Transcriber, fn_constructor_args=(config,), concurrency=4, num_cpus=1)`.
    """

    def __init__(self, config: TranscribeConfig | None = None) -> None:
        self.config = config if config is not None else TranscribeConfig()
        check_style(self.config.style)
        if self.config.cpu_threads is not None:
            os.environ["OMP_NUM_THREADS"] = str(self.config.cpu_threads)
        self._options = self.config.read_kwargs()
        if self.config.warm_up:
            from uncertain.api import whisper_engine

            whisper_engine(self.config.model, self.config.device).load()

    def read_one(self, source: str | bytes) -> Document:
        """Read one file (a path or its bytes) with this actor's settings."""
        from uncertain.api import read

        return read(source, **self._options)

    def __call__(self, batch: Any) -> Any:
        """Transcribe or OCR each row of `batch` into a `pyarrow.Table` (see `result_schema`).

        A file that fails becomes a `status="error"` row with its message.
        """
        pa = _import("pyarrow")
        columns = _columns(batch)
        paths = columns.get("path")
        blobs = columns.get("bytes")
        if paths is None and blobs is None:
            raise UsageError(
                f"the batch needs a 'path' or a 'bytes' column; it has {sorted(columns)}"
            )
        count = len(paths if paths is not None else blobs)  # type: ignore[arg-type]
        out: dict[str, list[Any]] = {name: [] for name in result_schema().names}
        for row in range(count):
            path = None if paths is None or paths[row] is None else str(paths[row])
            blob = None if blobs is None else blobs[row]
            try:
                source = bytes(blob) if blob is not None else path
                if source is None:
                    raise ValueError("row has neither a path nor bytes")
                doc = self.read_one(source)
                rendered = page_content(doc, self.config.style)
            except Exception as error:  # one bad file must never fail the batch
                out["status"].append("error")
                out["error"].append(_message(error))
                for name in ("text", "rendered", "document_json"):
                    out[name].append(None)
                out["spans"].append([])
            else:
                out["status"].append("ok")
                out["error"].append(None)
                out["text"].append(doc.text)
                out["rendered"].append(rendered)
                out["spans"].append(_span_rows(doc))
                out["document_json"].append(doc.to_json())
            out["path"].append(path)
        return pa.Table.from_pydict(out, schema=result_schema())


def transcribe_dataset(
    paths: Iterable[str | Path] | ray.data.Dataset,
    *,
    concurrency: int | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    batch_size: int = 4,
    style: Style | None = "inline",
    cpu_threads: int | None = None,
    **options: Any,
) -> ray.data.Dataset:
    """A lazy Ray dataset that reads each file: one result row per file (see the module doc).

    Args:
        paths: file paths, or a Ray dataset with a `path` or `bytes` column.
        concurrency: how many actors; default: as many as the cluster's CPUs (or GPUs, when
            `num_gpus` > 0) allow for the resources each one asks.
        num_cpus, num_gpus: what each actor reserves (with `num_gpus`, pass `device="cuda"`).
        batch_size: files per batch; small batches balance uneven files across actors.
        style: render style for the `rendered` column (None: plain text).
        cpu_threads: threads per actor (its `OMP_NUM_THREADS`); default: `num_cpus` on CPU,
            Ray's own default with GPUs.
        options: passed to `uncertain.read` (`model`, `language`, `threshold`, ...).

    Connects to Ray (`ray.init()`, which honours `RAY_ADDRESS`) when it is not connected yet.
    """
    ray_module = _import("ray")
    rd = _import("ray.data")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, not {batch_size}")
    if cpu_threads is None and num_gpus == 0:
        # Pin engine threads to the CPUs each actor reserves, so actors do not oversubscribe.
        cpu_threads = max(1, math.floor(num_cpus))
    config = TranscribeConfig.from_options(style=style, cpu_threads=cpu_threads, **options)
    items = None if isinstance(paths, rd.Dataset) else [{"path": str(p)} for p in paths]
    if items is not None and not items:
        raise UsageError("no files to read", "pass at least one path")
    if not ray_module.is_initialized():
        ray_module.init()
    dataset: Any = paths
    if items is not None:
        # One block per batch, so the actor pool can hand batches to different actors.
        blocks = max(1, math.ceil(len(items) / batch_size))
        dataset = rd.from_items(items, override_num_blocks=blocks)
    if concurrency is None:
        resources: Mapping[str, float] = ray_module.cluster_resources()
        if num_gpus > 0:
            concurrency = max(1, int(resources.get("GPU", 0) // num_gpus))
        else:
            concurrency = max(1, int(resources.get("CPU", 1) // max(num_cpus, 1e-9)))
        if items is not None:  # more actors than batches would only sit idle
            concurrency = min(concurrency, math.ceil(len(items) / batch_size))
    remote_args: dict[str, Any] = {}
    if cpu_threads is not None:
        # Set when the actor's process starts: numpy fixes its BLAS threads on import.
        remote_args["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": str(cpu_threads)}}
    result: ray.data.Dataset = dataset.map_batches(
        Transcriber,
        fn_constructor_args=(config,),
        batch_size=batch_size,
        compute=rd.ActorPoolStrategy(size=concurrency),
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        batch_format="pyarrow",
        **remote_args,
    )
    return result
