"""The package's shape: folders by stage that import each other one way, and a public API that loads
only what is used."""
import ast
import os
import subprocess
import sys

import wordlstm

PACKAGE = os.path.dirname(wordlstm.__file__)
# Each stage may import the stages before it (and the package's root modules), never one after it.
ORDER = ["text", "model", "training", "use", "share", "planning", "serve", "commands"]


def imported_folders(path: str, folder: str) -> set[str]:
    """The package's folders that module `path` (in `folder`) imports from, itself left out."""
    package = ["wordlstm", *os.path.relpath(os.path.dirname(path), PACKAGE).split(os.sep)]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
        else:
            module = (node.module or "").split(".")
        if module[0] != "wordlstm":
            continue
        for name in ([module[1]] if len(module) > 1 else [a.name for a in node.names]):
            if name in ORDER and name != folder:
                found.add(name)
    return found


def test_the_stages_import_each_other_one_way():
    for folder in ORDER:
        allowed = set(ORDER[: ORDER.index(folder)])
        for name in os.listdir(os.path.join(PACKAGE, folder)):
            if name.endswith(".py"):
                later = imported_folders(os.path.join(PACKAGE, folder, name), folder) - allowed
                assert not later, f"{folder}/{name} imports {sorted(later)}, a later stage"


def test_every_module_lives_in_a_stage_folder():
    loose = {n for n in os.listdir(PACKAGE) if n.endswith(".py")}
    assert loose == {"__init__.py", "errors.py", "config.py"}  # the facade, and what every stage shares
    assert set(ORDER) <= {n for n in os.listdir(PACKAGE) if os.path.isdir(os.path.join(PACKAGE, n))}


def test_reading_a_corpus_loads_neither_the_card_nor_the_sampler():
    code = ("import sys; from wordlstm import corpus_from_text; corpus_from_text('a b. a c.'); "
            "print(sorted(m for m in sys.modules if m.startswith('wordlstm.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "wordlstm.text.data" in loaded
    for later in ("wordlstm.share", "wordlstm.use", "wordlstm.model", "wordlstm.training", "huggingface_hub"):
        assert later not in loaded, later


def test_the_public_api_names_resolve():
    for name in wordlstm.__all__:
        assert getattr(wordlstm, name) is not None, name
    assert callable(wordlstm.train) and callable(wordlstm.plan_training)


def test_no_function_is_longer_than_one_screen():
    files = [os.path.join(d, f) for d, _, fs in os.walk(PACKAGE) for f in fs if f.endswith(".py")]
    files.append(os.path.join(os.path.dirname(PACKAGE), "app.py"))
    for path in files:
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= 60, f"{path}: {node.name} is {lines} lines"
