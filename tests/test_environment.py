"""The environment is pinned exactly, and the pip and conda pins agree."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins(file: str = "requirements.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{file}: {line!r} is not pinned exactly"
            pins[canonical(name)] = version
    return pins


def conda_pins() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and "=" in entry:
            name, _, version = entry.partition("=")
            pins[canonical(name)] = version.lstrip("=")
    return pins


def test_every_requirement_is_pinned_exactly():
    assert len(requirement_pins()) >= 15


def test_conda_environment_has_the_same_pins_as_requirements():
    conda = conda_pins()
    drift = {
        name: (version, conda.get(name)) for name, version in requirement_pins().items() if conda.get(name) != version
    }
    assert not drift, f"requirements.txt and environment.yml disagree (pip, conda): {drift}"


def test_conda_environment_adds_quarto_at_the_makefile_release():
    makefile_pin = re.search(r"quarto-cli==([\d.]+)", (ROOT / "Makefile").read_text()).group(1)
    assert conda_pins()["quarto"] == makefile_pin
    assert conda_pins()["python"] == "3.11"


@pytest.mark.parametrize("file", ["requirements.txt", "requirements-lab.txt"])
def test_constraints_agree_with_requirements(file):
    constraints = {
        canonical(n): v
        for n, _, v in (
            line.partition("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line
        )
    }
    drift = {n: (v, constraints.get(n)) for n, v in requirement_pins(file).items() if constraints.get(n) != v}
    assert not drift, f"constraints.txt disagrees with {file}: {drift}"


def test_jupyterlab_is_pinned_for_its_own_environment_only():
    """JupyterLab's server brings jsonschema's format checkers (rfc3987-syntax),
    which every `import nbformat` would then load: it lives in .venv-lab."""
    assert requirement_pins("requirements-lab.txt") == {"jupyterlab": requirement_pins("constraints.txt")["jupyterlab"]}
    assert "jupyterlab" not in requirement_pins() and "jupyterlab" not in conda_pins()


def test_the_runtime_environment_loads_no_uri_grammar_with_nbformat():
    """papermill, nbval and nbconvert import nbformat, which imports jsonschema;
    with rfc3987-syntax installed, jsonschema compiles its grammar at import
    (2.7 s, python-jsonschema/jsonschema#1428). The environment that runs the
    pipeline and the tests must not have it."""
    script = "import sys, nbformat; print('rfc3987_syntax' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
    assert importlib.util.find_spec("rfc3987_syntax") is None
