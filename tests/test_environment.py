"""The environment is pinned exactly and hash-locked; the pins, the locks and
the conda pins agree; every install the Makefile runs checks the locks' hashes."""

import base64
import hashlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker

from mentoring_eval import provenance

ROOT = Path(__file__).resolve().parents[1]

# Each requirements file and the lock `make lock` writes from it (with constraints.txt).
LOCKS = {
    "requirements.txt": provenance.LOCK_FILE,
    "requirements-lab.txt": "requirements-lab.lock",
    "requirements-uv.txt": "requirements-uv.lock",
}


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


@pytest.mark.parametrize("file", LOCKS)
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


# ---------------------------------------------------------------- the locks


@dataclass(frozen=True)
class Locked:
    """One distribution of a lock: its version, the marker of the environments
    that install it ("" for all), and the SHA-256 of each of its files."""

    version: str
    marker: str
    hashes: tuple[str, ...]


def locked(file: str) -> dict[str, Locked]:
    """The distributions of a lock as pip and uv read it: one requirement per
    statement (continued over lines by backslashes), each with its hashes."""
    entries = {}
    for statement in (ROOT / file).read_text().replace("\\\n", " ").splitlines():
        statement = statement.split("#")[0].strip()
        if not statement:
            continue
        requirement, *hashes = statement.split("--hash=")
        pin, _, marker = requirement.partition(";")
        name, equals, version = pin.strip().partition("==")
        assert equals and re.fullmatch(r"[\w.+!-]+", version), f"{file}: {pin!r} is not pinned to one version"
        entries[canonical(name)] = Locked(version, marker.strip(), tuple(digest.strip() for digest in hashes))
    return entries


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_locked_distribution_carries_the_sha256_of_its_files(lock):
    entries = locked(lock)
    assert entries
    unhashed = sorted(name for name, entry in entries.items() if not entry.hashes)
    assert not unhashed, f"{lock}: no hash for {unhashed}"
    malformed = {
        name: digest
        for name, entry in entries.items()
        for digest in entry.hashes
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    }
    assert not malformed, f"{lock}: not a SHA-256: {malformed}"
    assert "#    make lock\n" in (ROOT / lock).read_text(), f"{lock} was not written by `make lock`"


@pytest.mark.parametrize("lock", LOCKS.values())
def test_the_locks_hold_the_constraints_versions_and_nothing_unpinned(lock):
    """constraints.txt decides every version, those of other platforms too:
    `make lock` only adds the hashes."""
    constraints = requirement_pins("constraints.txt")
    drift = {
        name: (entry.version, constraints.get(name))
        for name, entry in locked(lock).items()
        if constraints.get(name) != entry.version
    }
    assert not drift, f"{lock} and constraints.txt disagree (lock, constraints): {drift}"


@pytest.mark.parametrize(("file", "lock"), LOCKS.items())
def test_each_lock_holds_its_requirements_at_their_pins_on_every_platform(file, lock):
    entries = locked(lock)
    drift = {
        name: (
            version,
            entries[name].version if name in entries else None,
            entries.get(name, Locked("", "", ())).marker,
        )
        for name, version in requirement_pins(file).items()
        if name not in entries or entries[name].version != version or entries[name].marker
    }
    assert not drift, f"{file} and {lock} disagree (pin, locked, only where): {drift}"


def test_the_lock_serves_other_platforms_too():
    """A universal lock: what macOS needs (ipykernel's appnope) is locked with
    its hashes, and left out here by its marker, so the same lock installs on
    a Mac (a lock resolved for Linux alone would be refused there)."""
    appnope = locked(provenance.LOCK_FILE)["appnope"]
    assert appnope.marker == "sys_platform == 'darwin'" and appnope.hashes


def test_the_conda_environment_has_the_locked_versions():
    lock = locked(provenance.LOCK_FILE)
    conda = {name: version for name, version in conda_pins().items() if name not in {"python", "pip", "quarto"}}
    drift = {name: (version, lock[name].version if name in lock else None) for name, version in conda.items()}
    drift = {name: versions for name, versions in drift.items() if versions[0] != versions[1]}
    assert not drift, f"environment.yml and {provenance.LOCK_FILE} disagree (conda, lock): {drift}"


def test_this_environment_is_the_checkouts_lock_installed():
    """What `make` built: from this checkout's lock (rebuilt when it changes),
    every distribution it gives this platform at its version, and nothing
    else but the venv's own pip and setuptools and the project itself."""
    lock = provenance.installed_lock()
    if lock is None:
        pytest.skip("this environment was not installed from the lock (conda, or by hand)")
    assert lock == provenance.FileDigest.of((ROOT / provenance.LOCK_FILE).read_bytes()), (
        "the environment was installed from another lock: `make test` rebuilds it"
    )
    expected = {
        name: entry.version
        for name, entry in locked(provenance.LOCK_FILE).items()
        if not entry.marker or Marker(entry.marker).evaluate()
    }
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    for own in ("pip", "setuptools", "mentoring-eval"):
        installed.pop(own, None)
    assert installed == expected


# ---------------------------------------------------------------- the Makefile's installs


def make(*arguments: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    ).stdout


def installs(dry_run: str) -> list[str]:
    """Every pip or uv install in recipes as `make -n` prints them (not the
    lines that only choose the installer)."""
    commands = (command.strip() for command in re.split(r"\n|;|&&|\|\||\bthen\b|\belif\b", dry_run))
    return [c for c in commands if re.search(r"\$install\b|pip install\b", c) and not c.startswith("install=")]


def test_every_install_the_makefile_runs_checks_the_locks_hashes():
    """Both environments and uv itself: each install requires the hashes of
    a lock, but the project's own checkout (editable, without dependencies)
    and Quarto's PyPI package (which downloads its binary as it installs)."""
    dry_run = make("-n", "-B", ".venv-lab/.installed")  # -B: as if nothing were built (the recipe of .venv too)
    commands = installs(dry_run)
    locks = {re.search(r"--require-hashes .*-r (\S+)", c).group(1) for c in commands if "--require-hashes" in c}
    assert locks == set(LOCKS.values())
    unchecked = [c for c in commands if "--require-hashes" not in c]
    assert [re.split(r"\binstall\b", c, maxsplit=1)[1].strip() for c in unchecked] == [
        "--no-deps -e .",
        "--quiet --disable-pip-version-check quarto-cli==1.10.19 >.venv/quarto-install.log 2>&1",
    ]
    assert f"cp {provenance.LOCK_FILE} .venv/{provenance.LOCK_FILE}" in dry_run  # what provenance.installed_lock reads


def test_the_environment_is_rebuilt_when_its_lock_changes_and_only_then(tmp_path):
    environment = tmp_path / "env"
    environment.mkdir()
    (environment / ".installed").touch()  # built after every file of the checkout
    stamp = [f"VENV={environment}", f"{environment}/.installed"]
    assert "venv --clear" not in make("-n", *stamp)
    assert "venv --clear" in make("-n", "-W", provenance.LOCK_FILE, *stamp)
    assert "venv --clear" in make("-n", "-W", "requirements-uv.lock", *stamp)
    # A pin changed without `make lock` is caught by the tests above, not installed.
    assert "venv --clear" not in make("-n", "-W", "requirements.txt", *stamp)


def test_make_lock_writes_every_lock_universal_with_hashes():
    dry_run = make("-n", "-o", ".venv/.installed", "lock")
    for file, lock in LOCKS.items():
        (command,) = [line for line in dry_run.splitlines() if line.endswith(f" -o {lock}")]
        assert "pip compile" in command and "--generate-hashes" in command and "--universal" in command
        assert f" {file} -c constraints.txt " in command


@pytest.mark.parametrize("never_write", ["1", ""], ids=["PYTHONDONTWRITEBYTECODE=1", "unset"])
def test_uv_compiles_bytecode_at_install_only_where_python_will_not_write_it(never_write):
    """Where Python never writes bytecode, every run would compile each module
    it imports again: there uv compiles all at install, as pip does; elsewhere
    the first run writes it, once."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    if never_write:
        environment["PYTHONDONTWRITEBYTECODE"] = never_write
    installer = make("-s", "--eval", "show: ; @echo '$(call UV_INSTALL,env)'", "show", env=environment)
    assert ("--compile-bytecode" in installer) == bool(never_write)


def wheel_of_one_module(folder: Path, name: str, requires: str = "") -> Path:
    """A wheel made here (so the test needs no network): the module ``name``,
    version 1.0, with the dependency ``requires`` if given."""
    info = f"{name}-1.0.dist-info"
    requirement = f"Requires-Dist: {requires}\n" if requires else ""
    files = {
        f"{name}/__init__.py": b"LOCKED = True\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{requirement}".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def record(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    lines = [f"{path},{record(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*lines, f"{info}/RECORD,,"]) + "\n").encode()
    folder.mkdir(exist_ok=True)
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.mark.parametrize("installer", ["UV_INSTALL", "PIP_INSTALL"])
def test_the_makefiles_installers_refuse_a_file_that_is_not_the_one_locked(installer, tmp_path):
    """The two installers exactly as the Makefile runs them, with
    --require-hashes, from a lock of local wheels: a wrong hash is refused,
    and so are a lock without one and a dependency the lock does not hash;
    the right hashes install."""
    uv = ROOT / make("-s", "--eval", "show-uv: ; @echo $(UV)", "show-uv").strip()
    if installer == "UV_INSTALL" and not uv.exists():
        pytest.skip(f"uv could not be installed here ({uv} is missing): the Makefile installs with pip")
    environment = tmp_path / "env"
    venv.create(environment, with_pip=installer == "PIP_INSTALL")
    wheels = tmp_path / "wheels"
    digest = {
        name: hashlib.sha256(wheel_of_one_module(wheels, name, requires).read_bytes()).hexdigest()
        for name, requires in (("locked_example", ""), ("needs_another", "locked_example"))
    }
    command = shlex.split(make("-s", "--eval", f"show: ; @echo '$(call {installer},{environment})'", "show"))
    offline = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}

    def install(lock: str) -> subprocess.CompletedProcess:
        (tmp_path / "test.lock").write_text(lock)
        arguments = ["--require-hashes", "-r", str(tmp_path / "test.lock"), "--no-index", "--find-links", str(wheels)]
        return subprocess.run([*command, *arguments], cwd=ROOT, capture_output=True, text=True, env=offline)

    site_packages = environment / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for lock in (
        f"locked-example==1.0 --hash=sha256:{'0' * 64}\n",
        "locked-example==1.0\n",
        f"needs-another==1.0 --hash=sha256:{digest['needs_another']}\n",
    ):
        refused = install(lock)
        assert refused.returncode != 0 and "hash" in (refused.stdout + refused.stderr).lower(), refused
        assert not (site_packages / "locked_example").exists() and not (site_packages / "needs_another").exists()
    accepted = install(
        f"locked-example==1.0 --hash=sha256:{digest['locked_example']}\n"
        f"needs-another==1.0 --hash=sha256:{digest['needs_another']}\n"
    )
    assert accepted.returncode == 0, accepted.stderr
    assert (site_packages / "locked_example").is_dir() and (site_packages / "needs_another").is_dir()
