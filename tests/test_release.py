"""Ready to publish and cite: the licence, the citation metadata (valid
Citation File Format 1.2.0), the changelog and the version agree."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import mentoring_eval
from mentoring_eval import provenance

ROOT = Path(__file__).resolve().parents[1]
# The official schema, vendored (the tests run offline): see tests/data/README.md.
CFF_SCHEMA = Path(__file__).parent / "data" / "citation-cff-1.2.0.schema.json"
PUBLICATION_DOI = "10.1186/s12874-021-01382-y"
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)


def citation() -> dict:
    return provenance.read_citation(ROOT)


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def cff_errors(document: dict) -> list[str]:
    """Every way ``document`` breaks the Citation File Format 1.2.0 schema
    (formats such as dates checked too), as readable lines."""
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def changelog_releases() -> list[tuple[str, str | None]]:
    """The changelog's sections, newest first: (version, date)."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return [(match["version"], match["date"]) for match in RELEASE_HEADING.finditer(text)]


# ---------------------------------------------------------------- CITATION.cff


def test_the_vendored_schema_is_the_official_cff_1_2_0_schema():
    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    jsonschema.Draft7Validator.check_schema(schema)


def test_citation_cff_is_valid_citation_file_format_1_2_0():
    assert cff_errors(citation()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda cff: cff.pop("authors"), id="no authors"),
        pytest.param(lambda cff: cff.update({"cff-version": "1.1.0"}), id="wrong cff-version"),
        pytest.param(lambda cff: cff.update({"date-released": "25 November 2026"}), id="date not YYYY-MM-DD"),
        pytest.param(lambda cff: cff["references"][0].update({"doi": "doi:10.1186/x"}), id="malformed DOI"),
        pytest.param(lambda cff: cff.update({"licence": "MIT"}), id="misspelt key"),
    ],
)
def test_the_schema_check_rejects_a_broken_citation(breakage):
    broken = copy.deepcopy(citation())
    breakage(broken)
    assert cff_errors(broken), "the schema check accepted a broken CITATION.cff"


def test_the_citation_cites_the_publication_it_reproduces():
    publication = provenance.cited_publication(citation())
    assert publication["doi"] == PUBLICATION_DOI
    assert publication["journal"] == "BMC Medical Research Methodology"
    assert publication["year"] == 2021
    family_names = "Craven Holmes Powers Clarke Cripps Lindley Phillips Tyerman McKevitt Clarke Radford".split()
    assert [author["family-names"] for author in publication["authors"]] == family_names


def test_the_citation_is_for_this_software_under_its_licence():
    cff, project = citation(), pyproject()["project"]
    assert cff["type"] == "software"
    assert cff["title"].startswith(project["name"])
    assert cff["license"] == project["license"] == "MIT"


# ---------------------------------------------------------------- licence


def test_the_licence_file_is_the_mit_licence_the_metadata_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert pyproject()["project"]["license-files"] == ["LICENSE"]


def test_the_data_readme_states_the_terms_of_the_bundled_records():
    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "CC0 1.0" in text and "synthetic" in text


# ---------------------------------------------------------------- version and changelog


def test_the_changelog_keeps_an_unreleased_section_first():
    releases = changelog_releases()
    assert releases[0] == ("Unreleased", None)
    assert all(date for _, date in releases[1:]), "every released section needs its date"


def test_the_version_is_the_newest_released_changelog_section_everywhere():
    newest_version, newest_date = changelog_releases()[1]
    assert pyproject()["project"]["version"] == newest_version
    assert mentoring_eval.__version__ == newest_version
    assert str(citation()["version"]) == newest_version
    assert str(citation()["date-released"]) == newest_date


def test_the_changelog_sections_are_newest_first_and_unique():
    versions = [tuple(int(part) for part in version.split(".")) for version, _ in changelog_releases()[1:]]
    assert versions == sorted(set(versions), reverse=True)


# ---------------------------------------------------------------- ruff


def test_ruff_is_configured_at_the_codes_line_length():
    ruff = pyproject()["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert set(ruff["lint"]["select"]) >= {"E", "F", "W", "I", "B", "UP"}


def test_the_citation_file_parses_as_yaml_with_no_duplicate_keys():
    """YAML silently keeps the last of two equal keys; the schema would then
    check a different file from the one a reader sees."""

    class NoDuplicates(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        keys = [loader.construct_object(key) for key, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        assert not duplicates, f"CITATION.cff repeats {sorted(duplicates)}"
        return loader.construct_mapping(node)

    NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load((ROOT / provenance.CITATION_FILE).read_text(encoding="utf-8"), Loader=NoDuplicates)


def test_make_test_runs_the_style_checks_before_the_tests():
    # `make -n` prints the recipe without running it. (The switch was once named
    # LINT, which make predefines, so the checks silently never ran.)
    dry_run = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "ruff check src tests benchmarks" in dry_run
    assert "ruff format --check src tests benchmarks" in dry_run
    assert dry_run.index("ruff check") < dry_run.index("pytest")
