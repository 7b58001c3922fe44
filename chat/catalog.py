"""The models rooms can use: one object per name, and the list a room's settings offer."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

from .config import DEMO_MODEL, Settings
from .demo import Demo
from .llm import ChatModel, Claude, ModelFacts

log = logging.getLogger(__name__)

FALLBACK_MODELS = ('claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5')
"""Offered when the API's model list cannot be read."""
LIST_TTL = 600.0


class ModelCatalog:
    """Made on first use: `demo`, or Claude models sharing the key and base URL of the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, ChatModel] = {}
        self._listed: tuple[float, list[ModelFacts]] | None = None
        self._making = threading.Lock()  # app.py makes the default model in a thread at startup

    def get(self, name: str) -> ChatModel:
        if self.settings.uses_demo or name == DEMO_MODEL:
            name = DEMO_MODEL  # no key: every room answers offline, whatever it was set to
        with self._making:
            if name not in self._models:
                self._models[name] = Demo(self.settings.demo_delay) if name == DEMO_MODEL else Claude(
                    name, api_key=self.settings.api_key, base_url=self.settings.base_url,
                    max_tokens=self.settings.max_tokens)
                self._tell_facts()
        return self._models[name]

    async def close(self) -> None:
        """Close the models' HTTP clients (their connection pools), at shutdown."""
        with self._making:
            models, self._models = list(self._models.values()), {}
        for model in models:
            if isinstance(model, Claude):
                await model.close()

    async def names(self) -> list[str]:
        """Model ids for a room's picker: the API's list when it answers, else a fallback; always `demo`."""
        if self.settings.uses_demo:
            return [DEMO_MODEL]
        if self._listed is None or time.monotonic() - self._listed[0] > LIST_TTL:
            model = self.get(self.settings.model)
            try:
                listed = await asyncio.wait_for(model.list_models(), timeout=5)  # type: ignore[attr-defined]
            except Exception as e:  # offline, old server, no permission: the fallback list still works
                log.info('cannot list models: %s', e)
                listed = []
            self._listed = (time.monotonic(), listed)
            with self._making:
                self._tell_facts()
        names = [facts.id for facts in self._listed[1]] or [*FALLBACK_MODELS]
        for name in (self.settings.model, DEMO_MODEL):
            if name not in names:
                names.append(name)
        return names

    def can_think(self, name: str) -> bool | None:
        """Whether a model can think, as the API's model list said (None: not known); the demo can. A room on a model
        that cannot think is answered without thinking, whatever its budget (TurnRunner)."""
        if self.settings.uses_demo or name == DEMO_MODEL:
            return True
        listed = self._listed[1] if self._listed else []
        found = next((facts.thinks for facts in listed if facts.id == name), None)
        model = self._models.get(name)
        if found is None and isinstance(model, Claude) and model.facts is not None:
            return model.facts.thinks  # learned by the model itself at its first turn with thinking
        return found

    def _tell_facts(self) -> None:
        """Give each Claude model what the API's list says of it (whether it can think, and how); under _making."""
        for facts in self._listed[1] if self._listed else []:
            if isinstance(model := self._models.get(facts.id), Claude):
                model.facts = facts
