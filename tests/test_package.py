"""The package's surface and shape: the public names, what `import uncertain` loads, and which
module may import which."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import uncertain
from uncertain import errors
from uncertain.document import Document

PACKAGE = Path(uncertain.__file__).parent


def test_public_api_all_is_sorted_and_complete() -> None:
    assert list(uncertain.__all__) == sorted(uncertain.__all__)
    public = {
        name
        for name in dir(uncertain)
        if not name.startswith("_") and not isinstance(getattr(uncertain, name), type(uncertain))
    }
    public.discard("annotations")
    assert public == set(uncertain.__all__) - {"__version__"}
    for name in uncertain.__all__:
        assert getattr(uncertain, name) is not None, name


def test_the_whole_error_hierarchy_is_exported() -> None:
    raised = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.UncertainError)
    }
    assert raised == set(errors.__all__)
    assert raised <= set(uncertain.__all__)
    for name in raised:
        assert getattr(uncertain, name) is getattr(errors, name)
    # A wrong argument is a ValueError, never an InputError (which is about the input).
    assert issubclass(errors.UsageError, ValueError)
    assert not issubclass(errors.UsageError, errors.InputError)


def test_no_public_name_shadows_a_submodule() -> None:
    """`uncertain.X` is the submodule X whenever a submodule has that name."""
    submodules = {info.name for info in pkgutil.iter_modules(uncertain.__path__)}
    assert {"render", "resolution", "document"} <= submodules
    for name in sorted(submodules & set(uncertain.__all__)):
        assert getattr(uncertain, name) is importlib.import_module(f"uncertain.{name}"), name
    # A name looked up before its submodule is imported gives the submodule too.
    code = "import types, uncertain; assert isinstance(uncertain.resolution, types.ModuleType)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_is_the_package_and_render_prompt_the_function() -> None:
    import uncertain.render as render_package

    assert isinstance(render_package, types.ModuleType)
    assert uncertain.render is render_package
    assert uncertain.render_prompt is render_package.render
    from uncertain.render import render, to_messages  # the module path keeps working

    assert callable(render) and callable(to_messages)
    assert callable(uncertain.resolve) and not isinstance(uncertain.resolve, types.ModuleType)


def test_calling_the_render_package_still_works_with_a_warning() -> None:
    doc = Document(text="take metaformin")
    with pytest.warns(DeprecationWarning, match="render_prompt"):
        shown = uncertain.render(doc, style="brackets")  # type: ignore[operator]
    assert shown == uncertain.render_prompt(doc, style="brackets")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uncertain.render_prompt(doc)  # the new name does not warn


def test_import_uncertain_loads_no_engine_exporter_or_terminal_library() -> None:
    """`import uncertain` is quick: each public name loads its module on first use."""
    heavy = (
        "rich",
        "typer",
        "numpy",
        "PIL",
        "faster_whisper",
        "ctranslate2",
        "pytesseract",
        "pypdfium2",
        "rapidfuzz",
        "rapidocr",
        "onnxruntime",
        "pandas",
        "openai",
        "uncertain.adapters",
        "uncertain.api",
        "uncertain.cli",
        "uncertain.exporters",
        "uncertain.fusion",
        "uncertain.evaluate",
        "uncertain.integrations",
    )
    code = "import json, sys, uncertain; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
    )
    found = sorted(m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy))
    assert found == []


def test_notebook_views_load_on_first_display() -> None:
    code = (
        "import sys, uncertain; doc = uncertain.Document(text='hi');"
        "html = doc._repr_html_(); table = uncertain.Documents([doc])._repr_html_();"
        "assert 'uncertain-nb' in html and '<table>' in table;"
        "assert 'rich' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- which module may import which -----------------------------------------------------------

LAYERS: list[tuple[str, ...]] = [
    # Bottom: no uncertain imports but each other.
    ("uncertain.errors", "uncertain._version", "uncertain._files", "uncertain._memory"),
    ("uncertain.models",),  # where the model files are; engines use it
    ("uncertain.document", "uncertain._table"),  # the data model
    # Readers: engine adapters, and the cross-check that joins a second reading to the first.
    ("uncertain.adapters", "uncertain.crosscheck"),
    # Scoring words against reference texts: fitting a calibrator labels words with these.
    (
        "uncertain.evaluate.normalize",
        "uncertain.evaluate.measures",
        "uncertain.evaluate.references",
        "uncertain.evaluate.boxes",
    ),
    ("uncertain.fusion",),  # signals into calibrated confidence and marks
    # Consumers of a fused document.
    (
        "uncertain.render",
        "uncertain.resolution",
        "uncertain.llm",
        "uncertain.extraction",
        "uncertain.exporters",
        "uncertain.evaluate",
    ),
    ("uncertain.api",),  # read / transcribe: adapters, cross-check and fusion together
    ("uncertain.cli", "uncertain.integrations", "uncertain.__main__", "uncertain"),
]
"""Each module may import its own layer and those below, never one above. A prefix stands for
a module and everything inside it (`uncertain.adapters` covers `uncertain.adapters.whisper`);
`uncertain` alone is the package's `__init__`."""

UPWARD_ALLOWED = {
    ("uncertain.document", "uncertain.exporters.notebook"): (
        "Jupyter asks the object itself for HTML (`_repr_html_`); the view is imported then"
    ),
}
"""The upward imports that are allowed, inside a function only, each with its reason."""


def _layer(module: str) -> int:
    matches = [
        (len(prefix), number)
        for number, layer in enumerate(LAYERS)
        for prefix in layer
        if module == prefix or (prefix != "uncertain" and module.startswith(prefix + "."))
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return max(matches)[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """Every uncertain module `path` imports: (name, line, at module level)."""
    tree = ast.parse(path.read_text("utf-8"))
    top_level = {id(node) for node in tree.body}
    # Imports under `if TYPE_CHECKING:` at the top count as module level too.
    for node in tree.body:
        if isinstance(node, ast.If):
            top_level |= {id(child) for child in node.body + node.orelse}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from uncertain import exporters` imports the submodule, not only the package.
            names = [
                f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                for alias in node.names
            ]
        for name in names:
            if name == "uncertain" or name.startswith("uncertain."):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def test_imports_flow_one_way() -> None:
    """No module imports one in a layer above its own (module level or inside a function)."""
    upward = []
    allowed_seen = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        own = _layer(module)
        for name, line, top_level in _imports(path, module):
            if _layer(name) <= own:
                continue
            edge = next(
                (
                    (low, high)
                    for low, high in UPWARD_ALLOWED
                    if (module == low or module.startswith(low + "."))
                    and (name == high or name.startswith(high + "."))
                ),
                None,
            )
            if edge is not None and not top_level:
                allowed_seen.add(edge)
                continue
            upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {name}")
    assert upward == []
    assert allowed_seen == set(UPWARD_ALLOWED), "an allowed upward import is gone: drop it"


def test_data_model_does_not_import_the_exporters() -> None:
    """Adapters produce, exporters consume: document.py imports neither at module level (the
    notebook view is imported when a notebook first shows a document)."""
    path = PACKAGE / "document.py"
    imported = {name for name, _, top_level in _imports(path, "uncertain.document") if top_level}
    assert not {
        m
        for m in imported
        if m.startswith(("uncertain.exporters", "uncertain.adapters", "uncertain.integrations"))
    }
    assert Document(text="")._repr_html_() is not None
