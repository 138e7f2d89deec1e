"""The package's layers: a module imports only modules of its own layer or below, and nothing imports
in a circle. The picture in README.md's Layout section is this table."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nbhelpers"
LAYERS = [   # lowest first
    {"files", "paths", "device", "profiles"},                                        # plumbing
    {"thinking", "formatting", "token_view", "data", "sources", "tokenizer", "memory", "setup", "plots",
     "evaluation", "calculator"},                                                                   # text, data
    {"verifier", "warmup", "generate", "generate.datagen", "generate.corpus"},       # language-model pieces, generators
    {"body", "bodies"},                                                              # where bodies come from
    {"modeling"},                                                                    # load / wrap / save a reward model
    {"scoring"},                                                                     # the reward, in one place
    {"training", "grpo", "widgets", "exercises", "best_of_n", "rl_demo", "troubleshooting",
     "score_drift"},                                                                  # what uses the reward
    {"cli", "__init__", "__main__"},                                                 # entry points
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def imports(path: Path) -> set[str]:
    """nbhelpers modules imported anywhere in the file (also inside functions)."""
    package = module_name(path).split(".")[:-1] if path.name != "__init__.py" else module_name(path).split(".")
    if module_name(path) == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join(base + [node.module]))
            else:
                found.update(".".join(base + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nbhelpers."):
            found.add(node.module.removeprefix("nbhelpers."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("nbhelpers.") for a in node.names if a.name.startswith("nbhelpers."))
    return found


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    assert sorted(set(GRAPH) - set(LAYER)) == []


def upward_imports(graph) -> list[tuple[str, str]]:
    return [(m, d) for m, deps in graph.items() for d in sorted(deps) if LAYER.get(d, -1) > LAYER[m]]


def find_cycle(graph) -> list[str] | None:
    state = {}

    def visit(module, path):
        if state.get(module) == "open":
            return path[path.index(module):] + [module]
        if state.get(module) == "done":
            return None
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            cycle = visit(dep, path + [module])
            if cycle:
                return cycle
        state[module] = "done"
        return None
    return next((c for c in (visit(m, []) for m in sorted(graph)) if c), None)


def test_imports_point_down_the_layers():
    assert upward_imports(GRAPH) == []


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None


def test_the_checks_can_fail():
    """An upward import and a cycle, planted in a copy of the graph, are caught."""
    planted = {**GRAPH, "files": GRAPH["files"] | {"scoring"}}
    assert upward_imports(planted) == [("files", "scoring")]
    assert find_cycle(planted) is not None and find_cycle(planted)[0] == find_cycle(planted)[-1]


def test_the_runtime_does_not_import_the_generators():
    """Scoring, training and the notebooks' helpers never load nbhelpers.generate (build tools)."""
    import subprocess
    import sys

    code = ("import sys, nbhelpers.scoring, nbhelpers.training, nbhelpers.grpo, nbhelpers.widgets; "
            "print([m for m in sys.modules if m.startswith('nbhelpers.generate')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
