"""What a run depends on: the execution key (re-execute when it changes) and the render key (re-render only).

Execution key = hash of
  * the notebook's **code** cells,
  * the resolved parameters,
  * the ``src/expbook`` modules the notebook actually imports — the transitive import graph, found statically
    with ``ast`` from the code cells, stored per run as ``{path: hash}``,
  * the data fingerprint (files under ``data_dir``; generated data is covered by parameters and code),
  * ``requirements.txt``.

Render key = hash of the markdown cells (with their positions) and the code cells' tags: a prose-only edit
changes it and nothing else, so the stored executed notebook is re-rendered with no kernel started.
Platform modules no notebook imports (``book``, ``runner`` …) never invalidate a run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from expbook import PACKAGE_DIR, PROJECT_ROOT
from expbook.cache import fingerprint_folder, stable_hash
from expbook.pysource import parse
from expbook.run.catalogue import Cell, notebook_cells
from expbook.sourcegraph import closure, imported_names, source_hashes

COMPONENT_LABELS = {"notebook": "notebook code", "params": "parameters", "modules": "expbook modules",
                    "data": "data", "requirements": "pinned requirements", "upstream": "upstream reports"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _read(notebook_path: Path) -> tuple[Cell, ...]:
    return notebook_cells(notebook_path)


def code_source(cell_source: str) -> str:
    """A code cell without IPython magics and shell escapes, so ``ast`` can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines())


def code_cells_hash(cells: tuple[Cell, ...]) -> str:
    return stable_hash([cell.source for cell in cells if cell.cell_type == "code"])


def render_key(notebook_path: Path) -> str:
    """Hash of what only changes the page: markdown cells (source and position) and code cells' tags."""
    return stable_hash([[i, cell.source] if cell.cell_type == "markdown" else [i, sorted(cell.tags)]
                        for i, cell in enumerate(_read(notebook_path))])


# --- the import graph ---------------------------------------------------------------------------------------------

def imported_modules(notebook_path: Path) -> list[str]:
    """The project modules the notebook's code cells import, transitively (parent packages included), sorted."""
    source = "\n".join(code_source(c.source) for c in _read(notebook_path) if c.cell_type == "code")
    return closure(imported_names(parse(source), "__main__"))


def module_hashes(notebook_path: Path) -> dict[str, str]:
    """``{path relative to the project: content hash}`` of every module the notebook imports."""
    return source_hashes(imported_modules(notebook_path), PROJECT_ROOT)


def package_hash() -> str:
    """Hash of every ``src/expbook`` source: provenance only (what built the run), never part of the key."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# --- the key ------------------------------------------------------------------------------------------------------

def requirements_hash() -> str:
    path = PROJECT_ROOT / "requirements.txt"
    return _sha(path.read_bytes()) if path.is_file() else "none"


def data_fingerprint(params: dict[str, Any]) -> str:
    """Files under ``data_dir`` (path, size, mtime); generated data is covered by the parameters and the code."""
    data_dir = params.get("data_dir")
    if not data_dir:
        return "generated"
    folder = Path(data_dir).expanduser()
    return "files:" + fingerprint_folder(folder) if folder.is_dir() else f"missing:{folder}"


def upstream_runs(notebook_path: Path, store) -> dict[str, str | None]:
    """The canonical run id of every report the notebook ``needs`` (its metadata): a finding it quotes."""
    from expbook.run.catalogue import notebook_metadata

    needs = notebook_metadata(notebook_path).get("needs", [])
    return {name: (run.run_id if (run := store.canonical(name)) else None) for name in needs}


def key_components(notebook_path: Path, params: dict[str, Any], upstream: dict[str, str | None] | None = None
                   ) -> dict[str, Any]:
    components = {"notebook": code_cells_hash(_read(notebook_path)), "params": stable_hash(params),
                  "modules": module_hashes(notebook_path), "data": data_fingerprint(params),
                  "requirements": requirements_hash()}
    if upstream:  # only a notebook that quotes another report's findings has this part
        components["upstream"] = dict(sorted(upstream.items()))
    return components


def execution_key(components: dict[str, Any]) -> str:
    return stable_hash([components[name] for name in COMPONENT_LABELS if name in components])


def changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two runs' key components, most specific first: module paths by name."""
    if not old or "modules" not in old:
        return ["the stored run predates per-module keys"]
    reasons = []
    for name, label in COMPONENT_LABELS.items():
        if name == "modules":
            before, after = old.get("modules", {}), new.get("modules", {})
            reasons += [f"{path} changed" for path in sorted(set(before) & set(after)) if before[path] != after[path]]
            reasons += [f"{path} newly imported" for path in sorted(set(after) - set(before))]
            reasons += [f"{path} no longer imported" for path in sorted(set(before) - set(after))]
        elif name == "upstream":
            before, after = old.get("upstream", {}), new.get("upstream", {})
            reasons += [f"upstream {e} has a new canonical run" for e in sorted(set(before) | set(after))
                        if before.get(e) != after.get(e)]
        elif old.get(name) != new.get(name):
            reasons.append(f"{label} changed")
    return reasons
