"""The model picker: the API's model list when it answers, a fallback list when not, demo without a key."""
from __future__ import annotations

from chat.bench.fake_anthropic import FakeAnthropic
from chat.catalog import FALLBACK_MODELS, ModelCatalog
from chat.config import Settings
from chat.demo import Demo
from chat.llm import Claude


async def test_names_come_from_the_api_and_always_include_demo(fake_api: FakeAnthropic) -> None:
    catalog = ModelCatalog(Settings(api_key='sk-test', base_url=fake_api.base_url, model='claude-sonnet-5-5'))
    names = await catalog.names()
    assert names[:len(fake_api.models)] == list(fake_api.models) and names[-1] == 'demo'
    assert isinstance(catalog.get('claude-haiku-5-5'), Claude) and catalog.get('demo').name == 'demo'
    assert catalog.get('claude-haiku-5-5') is catalog.get('claude-haiku-5-5'), 'one client per model'
    await catalog.close()


async def test_unreachable_api_falls_back_and_no_key_means_demo_only() -> None:
    offline = ModelCatalog(Settings(api_key='sk-test', base_url='http://127.0.0.1:9', model='my-model'))
    assert await offline.names() == [*FALLBACK_MODELS, 'my-model', 'demo']
    await offline.close()
    keyless = ModelCatalog(Settings(api_key=None))
    assert await keyless.names() == ['demo'] and isinstance(keyless.get('claude-opus-5-5'), Demo)

