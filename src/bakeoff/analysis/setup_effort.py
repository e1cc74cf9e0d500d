"""Setup effort, measured: what an application must own and run to use each arm.

Per arm, counted rather than guessed:

* **code the application owns**: logical lines (no blank, comment or docstring lines) of the arm's
  adapter module and of its import function, counted from the source with ``tokenize`` and ``ast``;
* **configuration keys**: the keyword options of the arm's backend class (``inspect.signature``);
* **processes and services** to run (declared here, with what the real system needs);
* **database objects** the arm's migrations create: tables, indexes, functions, triggers, counted
  from the catalog (``pg_class``, ``pg_proc``, ``pg_trigger``) of the arm's schema;
* **time from an empty database to the first completed job**: measured by
  ``benchmarks/setup_bench.py``, which records it as an observation (kind
  :data:`FIRST_JOB_KIND`) that this section reads.

The recorded qualitative observations whose kind starts with ``setup`` (``bakeoff observe --kind
setup_minutes``) are shown beside the counts.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from dataclasses import dataclass
from importlib import import_module, resources
from typing import Any

from sqlalchemy import Engine, text

from bakeoff.db.sql import load_queries

__all__ = [
    "ARM_SETUP",
    "FIRST_JOB_KIND",
    "ArmSetup",
    "configuration_keys",
    "database_objects",
    "function_lines",
    "logical_lines",
    "module_lines",
    "setup_effort_section",
]

QUERIES = load_queries("bakeoff.analysis")
FIRST_JOB_KIND = "seconds_to_first_job"
"""The observation kind ``benchmarks/setup_bench.py`` records its measurement under."""


@dataclass(frozen=True, kw_only=True)
class ArmSetup:
    """Where an arm's setup lives in the source, and what it needs running."""

    arm: str
    schema: str
    adapter_module: str
    import_function: str
    """``module:Qualified.name`` of the function that imports one article on this arm."""
    backend_class: str
    processes: tuple[str, ...]


ARM_SETUP = {
    "legacy": ArmSetup(
        arm="legacy",
        schema="legacy",
        adapter_module="bakeoff.backends.legacy.adapter",
        import_function="bakeoff.backends.legacy.handlers:_import_article",
        backend_class="bakeoff.backends.legacy.adapter:LegacyBackend",
        processes=(
            "PostgreSQL",
            "processor process (polls legacy.job)",
            "one Python child process per job",
        ),
    ),
    "pgboss": ArmSetup(
        arm="pgboss",
        schema="pgboss",
        adapter_module="bakeoff.backends.pgboss.adapter",
        import_function="bakeoff.backends.pgboss.adapter:PgBossBackend._import",
        backend_class="bakeoff.backends.pgboss.adapter:PgBossBackend",
        processes=("PostgreSQL", "worker process (pg-boss workers, supervisor and scheduler in-process)"),
    ),
    "inngest": ArmSetup(
        arm="inngest",
        schema="inngest",
        adapter_module="bakeoff.backends.inngest.adapter",
        import_function="bakeoff.backends.inngest.adapter:InngestBackend.import_article",
        backend_class="bakeoff.backends.inngest.adapter:InngestBackend",
        processes=(
            "PostgreSQL",
            "worker process serving the functions (here the step engine runs in it)",
            "with the real Inngest: the Inngest server too (Inngest Cloud, or self-hosted `inngest start`)",
        ),
    ),
}


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
            ):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def logical_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    skip |= {tokenize.ENCODING, tokenize.ENDMARKER}
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(code - _docstring_lines(ast.parse(source)))


def _source(module: str) -> str:
    package, _, name = module.rpartition(".")
    return resources.files(package).joinpath(f"{name}.py").read_text(encoding="utf-8")


def module_lines(module: str) -> int:
    """Logical lines of a module of this package."""
    return logical_lines(_source(module))


def function_lines(target: str) -> int:
    """Logical lines of ``module:Qualified.name`` (nested helpers included)."""
    module, _, qualname = target.partition(":")
    source = _source(module)
    node: ast.AST = ast.parse(source)
    for part in qualname.split("."):
        found = next(
            (
                child
                for child in ast.iter_child_nodes(node)
                if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and child.name == part
            ),
            None,
        )
        if found is None:
            raise LookupError(f"{target}: no {part!r} in {module}")
        node = found
    assert isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines()[start - 1 : node.end_lineno]
    return logical_lines(_dedent("\n".join(lines)) + "\n")


def _dedent(block: str) -> str:
    import textwrap

    return textwrap.dedent(block)


def configuration_keys(backend_class: str) -> list[str]:
    """The keyword options of an arm's backend class (what an application configures)."""
    module, _, name = backend_class.partition(":")
    cls = getattr(import_module(module), name)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in parameters if p.name not in ("self", "engine") and p.kind != p.VAR_KEYWORD]


def database_objects(engine: Engine, schema: str) -> dict[str, int]:
    """Tables, indexes, functions and triggers in ``schema``, counted from the catalog."""
    with engine.connect() as conn:
        row = conn.execute(text(QUERIES["setup_schema_objects"]), {"schema": schema}).mappings().one()
    return {key: int(value) for key, value in row.items()}


def _observations(engine: Engine, experiment: str) -> dict[str, dict[str, Any]]:
    """Latest first-job time and the setup observations, per arm."""
    with engine.connect() as conn:
        rows = conn.execute(text(QUERIES["setup_observations"]), {"experiment": experiment}).all()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        arm = out.setdefault(row.arm, {"first_job": None, "observations": []})
        if row.kind == FIRST_JOB_KIND:
            arm["first_job"] = float(row.value)  # rows come oldest first: the latest wins
        else:
            arm["observations"].append(f"{row.kind} = {row.value:g}" + (f" ({row.note})" if row.note else ""))
    return out


def setup_effort_section(engine: Engine, experiment: str) -> dict[str, Any]:
    """The report's setup-effort section for ``experiment``'s arms."""
    observed = _observations(engine, experiment)
    arms = []
    for spec in ARM_SETUP.values():
        seen = observed.get(spec.arm, {})
        arms.append(
            {
                "arm": spec.arm,
                "adapter_module": spec.adapter_module,
                "adapter_lines": module_lines(spec.adapter_module),
                "import_function": spec.import_function,
                "import_function_lines": function_lines(spec.import_function),
                "processes": list(spec.processes),
                "configuration_keys": configuration_keys(spec.backend_class),
                "database_objects": database_objects(engine, spec.schema),
                "seconds_to_first_job": seen.get("first_job"),
                "observations": seen.get("observations", []),
            }
        )
    notes = [
        "Lines are logical lines (no blank, comment or docstring lines) counted from the source; "
        "configuration keys are the backend class's keyword options; database objects are counted "
        "from the catalog of the arm's schema.",
        f"Time to the first completed job: benchmarks/setup_bench.py (observation kind {FIRST_JOB_KIND}); "
        "'-' until it has been run against this database.",
    ]
    notes += [f"{a['arm']}: {'; '.join(a['observations'])}" for a in arms if a["observations"]]
    return {"arms": arms, "notes": notes}
