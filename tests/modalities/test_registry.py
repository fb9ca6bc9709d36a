"""The modality registry: one entry per modality, and no modality name spelled outside it."""

import ast
from pathlib import Path

import pytest

import mmemotion
from mmemotion import MODALITIES
from mmemotion.modalities import (Modality, check_modalities, get_modality, register_modality,
                                  registered_modalities, unregister_modality)

PACKAGE = Path(mmemotion.__file__).parent
#: Files allowed to spell a built-in name, and why.
ALLOWED = {
    "modalities/_builtin.py": "the built-in registry entries",
}


def _entry(name, **kwargs):
    return Modality(name=name, sample_ndim=1, make_transformer=None, make_stream=None, **kwargs)


@pytest.fixture
def registered():
    names = []

    def register(name, **kwargs):
        names.append(name)
        return register_modality(_entry(name, **kwargs))

    yield register
    for name in names:
        unregister_modality(name)


def test_builtin_entries_are_registered_in_canonical_order():
    assert registered_modalities()[:3] == MODALITIES == ("audio", "video", "text")
    assert [get_modality(m).sample_ndim for m in MODALITIES] == [3, 4, 1]
    assert get_modality("video").integer_divisor == 255.0 and get_modality("audio").integer_divisor is None


def test_register_check_and_unregister(registered):
    registered("prosody", colour="#000000")
    assert registered_modalities()[-1] == "prosody"
    assert check_modalities(["prosody", "audio"], "t") == ("audio", "prosody")
    assert get_modality("prosody").display_name == "prosody"
    unregister_modality("prosody")
    with pytest.raises(ValueError, match="Unknown modality 'prosody'.*register_modality"):
        get_modality("prosody")


@pytest.mark.parametrize(
    "name, match",
    [("audio", "registered already"), ("2d", "identifier"), ("audio_rms", "prefix"), ("vid", None)],
)
def test_bad_registrations(registered, name, match):
    if match is None:
        registered(name)  # a prefix of no other name is fine
        assert name in registered_modalities()
        return
    with pytest.raises(ValueError, match=match):
        register_modality(_entry(name))


def test_replace_keeps_the_position(registered):
    registered("aux", colour="#111111")
    order = registered_modalities()
    register_modality(_entry("aux", colour="#222222"), replace=True)
    assert registered_modalities() == order and get_modality("aux").colour == "#222222"


def test_check_modalities_rejects_empty_unknown_and_repeated():
    for bad in ((), ("smell",), ("audio", "audio")):
        with pytest.raises(ValueError, match="caller: modalities=.*non-empty subset"):
            check_modalities(bad, "caller")
    with pytest.raises(TypeError, match="Modality"):
        register_modality({"name": "x"})


def _spelled_names(path):
    """Line numbers of string constants equal to a built-in name, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)}
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in MODALITIES and id(node) not in docstrings]


def test_no_package_module_spells_a_modality_name_outside_the_registry():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        lines = _spelled_names(path)
        if lines and relative not in ALLOWED:
            found[relative] = lines
    assert not found, f"modality names spelled outside the registry: {found}"
    assert _spelled_names(PACKAGE / "modalities" / "_builtin.py"), "the check must see the entries' names"
