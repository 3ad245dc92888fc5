"""`fe2 schema`: the JSON schema of case files, checked by an independent validator (the
``jsonschema`` package): every example case and the test suites' good cases pass it, malformed
ones fail it (except what JSON Schema cannot see: the mesh, constructor ranges, NaN)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema  # a dev dependency: make install brings it
import pytest
from test_case_validation import BAD, GOOD, RVE  # noqa: E402  (tests/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "examples" / "cases").glob("*.toml"))

# malformed cases a JSON schema cannot refuse: they need the mesh, a material constructor, a
# checked load length, or a non-finite number (JSON has no NaN / inf); fe2 refuses them itself
NEEDS_FE2 = {"missing mesh", "nan modulus", "negative modulus", "grow nan", "atol inf",
             "component out of range", "nan load", "inf load", "load too long",
             "curve component 7", "curve unknown boundary", "scalars unknown",
             "unknown boundary", "unknown subdomain", "huge modulus"}


@pytest.fixture(scope="module")
def validator():
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "schema"], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, data):
    return sorted(validator.iter_errors(data), key=lambda e: list(e.path))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_example_cases_pass_the_schema(validator, case):
    assert not _errors(validator, tomllib.loads(case.read_text()))


def test_good_cases_pass_the_schema(validator):
    from test_material_point import CASE as POINT
    from test_readme import README, TOML

    rve_block = next(b for b in TOML if "[materials.all]" in b and 'type = "RVE"' in b)
    readme_case = ('[mesh]\nfile = "m.msh"\n\n[problem]\nkind = "small_strain"\n\n' + rve_block
                   + '\n[[dirichlet]]\nboundary = "left"\n')
    assert README
    for text in (GOOD, RVE, POINT, readme_case):
        assert not _errors(validator, tomllib.loads(text)), text


SCHEMA_BAD = [b for b in BAD if b[0] not in NEEDS_FE2 | {"toml syntax"}]


@pytest.mark.parametrize("label,text", [b[:2] for b in SCHEMA_BAD], ids=[b[0] for b in SCHEMA_BAD])
def test_malformed_cases_fail_the_schema(validator, label, text):
    assert _errors(validator, tomllib.loads(text)), f"the schema accepts the malformed {label!r}"


def test_schema_sees_unknown_keys_and_strict_types(validator):
    base = tomllib.loads(GOOD)
    assert not _errors(validator, base)
    for path, value in [(("newton", "stpes"), 2), (("newton", "steps"), True),
                        (("materials", "domain", "E"), "100"),
                        (("materials", "domain", "nuu"), 0.3), (("output", "vtu"), 1)]:
        data = json.loads(json.dumps(base))
        node = data
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        assert _errors(validator, data), path


def test_schema_to_a_file(tmp_path):
    out = tmp_path / "case.schema.json"
    res = subprocess.run([sys.executable, "-m", "fe2.cli", "schema", "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    schema = json.loads(out.read_text())
    assert set(schema["properties"]) >= {"mesh", "problem", "materials", "point", "newton"}
