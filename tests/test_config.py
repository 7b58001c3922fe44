"""The command line and environment: defaults, limits, and one clear line for bad input."""
from __future__ import annotations

from pathlib import Path

import pytest

from chat.config import DEFAULT_MODEL, parse_settings, prepare_data_dir
from chat.errors import ConfigError


def test_defaults_follow_the_contract() -> None:
    settings = parse_settings([], {})
    assert (settings.host, settings.port, settings.data_dir, settings.model) == ('127.0.0.1', 8080, Path('data'),
                                                                                DEFAULT_MODEL)
    assert settings.uses_demo and settings.token is None and settings.max_message_chars == 100_000


def test_environment_sets_data_dir_model_token_and_message_limit() -> None:
    settings = parse_settings([], {'CHAT_DATA_DIR': '/tmp/x', 'CHAT_MODEL': 'claude-haiku-5-5',
                                   'CHAT_TOKEN': 'secret-token', 'CHAT_MAX_MESSAGE_CHARS': '500',
                                   'ANTHROPIC_API_KEY': 'sk-key'})
    assert (settings.data_dir, settings.model, settings.token, settings.max_message_chars) == (
        Path('/tmp/x'), 'claude-haiku-5-5', 'secret-token', 500)
    assert not settings.uses_demo and 'sk-key' not in repr(settings)


def test_share_binds_all_interfaces_with_a_random_token() -> None:
    settings = parse_settings(['--share'], {})
    assert settings.host == '0.0.0.0' and settings.token is not None and len(settings.token) >= 22


@pytest.mark.parametrize(('argv', 'env'), [
    (['--port', 'x'], {}), (['--port', '70000'], {}), (['--bogus'], {}), ([], {'CHAT_MAX_MESSAGE_CHARS': '0'}),
    (['--token', 'short'], {}),
])
def test_bad_input_is_one_clear_config_error(argv: list[str], env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(argv, env)
    assert '\n' not in str(error.value)


def test_an_unusable_data_dir_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('not a dir')
    with pytest.raises(ConfigError, match='not usable'):
        prepare_data_dir(blocker / 'data')
