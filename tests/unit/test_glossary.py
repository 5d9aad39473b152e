"""The glossary (transvis.glossary): plain-word definitions behind the method pages' hover help."""

import ast
from pathlib import Path

import pytest

from tests.unit.test_captions import KINDS, OVERTAKE, WITHIN, _kind, _noise
from transvis.captions import fisher_directions_caption, fisher_lambda_caption, official_geometry_note, trajectory_caption
from transvis.glossary import GLOSSARY, define, definition, terms_in

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/spread_attract.py", "pages/fisher_space.py", "pages/ped_dynamics.py", "pages/_dynamics.py"]
# the jargon the issue names (and the pages' captions use); each must be explained in plain words
JARGON = ["ConfMix", "α", "Fisher discriminant", "λ", "simplex ETF", "NC1", "NC2", "NC3", "NC4", "evidence",
          "SFDA", "PED", "potential energy", "exit ratio", "weighted τ", "Spread", "Attract", "LogME",
          "within noise", "per-sample contribution"]


@pytest.mark.parametrize("term", JARGON)
def test_the_jargon_has_plain_definitions(term):
    text = definition(term)
    assert len(text) > 40 and text.endswith((".", ")"))  # a sentence of plain words


def test_define_formats_help_and_names_the_fix():
    assert define("alpha", "ConfMix").startswith("**α** — The step size")
    assert "\n\n**ConfMix** — " in define("alpha", "ConfMix")
    with pytest.raises(KeyError, match="add it to transvis.glossary.GLOSSARY"):
        define("flux capacitor")


def _define_calls(path):
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("define", "definition"):
            yield [arg.value for arg in node.args if isinstance(arg, ast.Constant)]


def test_every_term_the_pages_define_exists():
    used = [term for path in PAGES for terms in _define_calls(path) for term in terms]
    assert len(used) >= 8  # the pages do use the glossary
    for term in used:
        definition(term)


def test_every_glossary_term_in_the_captions_is_defined():
    """Whatever jargon the generated captions use is in the glossary (terms_in finds only defined terms, so the
    check is that the captions' jargon words all map to definitions)."""
    texts = [trajectory_caption(_kind(kind, OVERTAKE, None), "LogME") for kind in KINDS]
    texts.append(trajectory_caption(_kind("collapse", WITHIN, _noise(WITHIN, 0.5)), "LogME"))
    texts += [fisher_lambda_caption({"a": 1e-10, "b": 1e-10}, adaptive=True),
              fisher_directions_caption([3.0, 2.0, 1.0], 4, "m")]
    rows = [{"a": 2.0}, {"a": 1.7}, {"a": 1.69}]
    from tests.unit.test_captions import crafted
    traj = crafted("spread_attract", rows, [{"a": {"mean_centre_distance": 10.0}}] * 2
                   + [{"a": {"mean_centre_distance": 10.1, "alpha": 0.005}}],
                   params={"variant": "official"}, info={"a": {"gate_fired": True}})
    texts.append(official_geometry_note(traj))
    found = {term for text in texts for term in terms_in(text)}
    for word in ("Spread", "Attract", "ConfMix", "PED", "potential energy", "NC1", "simplex ETF", "α", "PCA",
                 "within noise", "λ", "adaptive λ", "discriminant directions"):
        assert word in found, (word, texts)
    assert all(GLOSSARY[term] for term in found)


def test_terms_in_matches_whole_words():
    assert terms_in("PED stops at the exit ratio") == ["PED", "exit ratio"]
    assert "PED" not in terms_in("SPEED")
    assert terms_in("λ = 1e-10 and α = 0.005") == ["α", "λ"]
