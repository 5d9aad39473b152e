"""The app's Streamlit configuration (.streamlit/config.toml, read from the directory the app is started in)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_config_names_only_options_streamlit_knows_and_turns_the_forced_gc_and_magic_off():
    from streamlit import config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    options = {f"{section}.{name}": value for section, values in settings.items() for name, value in values.items()}
    config.get_config_options()  # loads the option registry
    assert set(options) <= set(config._config_options), "an option Streamlit would ignore (a typo?)"
    # a full gc.collect() after every run delays what the run sends (bench/README, session 12)
    assert options["runner.postScriptGC"] is False
    # every new session recompiles the pages (Streamlit clears its script cache): no syntax-tree rewrite on top
    assert options["runner.magicEnabled"] is False


def test_streamlit_reads_it_from_the_directory_the_app_starts_in(monkeypatch):
    from streamlit import config

    monkeypatch.chdir(ROOT)
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_option("runner.magicEnabled") is False
    finally:
        config.get_config_options(force_reparse=True)
