"""What a failed call to the Anthropic API means for the people in a room, in plain words that say who can fix it."""
from __future__ import annotations

import anthropic

from .errors import ModelError


def model_error(error: anthropic.APIError, base_url: str | None) -> ModelError:
    """The ModelError a reply shows for a failed API call: retryable unless the key itself was refused."""
    return ModelError(explain_api_error(error, base_url), retryable=_retryable(error))


def explain_api_error(error: anthropic.APIError, base_url: str | None) -> str:
    """A plain-words reason for a failed API call that says who can fix it: the person in the room (Retry, another
    model) or whoever runs Rooms (the key, the network of the machine it runs on). Never echoes the key."""
    where = base_url or 'the Anthropic API'
    operator = 'Whoever runs this Rooms server'
    if isinstance(error, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return (f'{where} refused the API key of this Rooms server ({error.status_code}). {operator} must set a valid '
                'ANTHROPIC_API_KEY and restart it (or start it with --model demo for the offline demo model).')
    if isinstance(error, anthropic.RateLimitError):
        return ('Claude is rate-limited for this server\'s API key right now (429) and the retries ran out. Wait a '
                'minute, then press Retry.')
    if isinstance(error, anthropic.NotFoundError):
        return (f'{where} does not know this model ({_api_message(error)}). Pick another model in the room '
                'settings, then press Retry.')
    if isinstance(error, anthropic.APITimeoutError):
        return (f'{where} did not answer in time. Press Retry; if it keeps happening, whoever runs Rooms should '
                'check the network of the machine it runs on.')
    if isinstance(error, anthropic.APIConnectionError):
        return (f'The Rooms server could not reach {where} (your own connection to the room is fine). Press Retry; if '
                'it keeps happening, whoever runs Rooms should check its network or ANTHROPIC_BASE_URL.')
    if isinstance(error, anthropic.APIStatusError):
        if error.status_code == 200:  # an `event: error` inside the stream
            return f'The model stopped with an error in the middle of the reply: {_api_message(error)}. Press Retry.'
        if error.status_code == 529 or 'overloaded' in str(error).lower():
            return 'Claude is overloaded right now (529) and the retries ran out. Wait a moment, then press Retry.'
        if error.status_code == 413:  # fit_turns keeps a request under the API's 32 MB: its estimate fell short
            return (f'The conversation with its files is too large for one request to Claude (413: '
                    f'{_api_message(error)}). Attach fewer or smaller files (or go on in a new room), then press '
                    'Retry.')
        if error.status_code >= 500:
            return f'{where} had an internal error ({error.status_code}) and the retries ran out. Press Retry.'
        return f'{where} refused the request ({error.status_code}): {_api_message(error)}'
    return f'The model call failed: {error}'


def _api_message(error: anthropic.APIError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get('error', body)
        if isinstance(inner, dict) and inner.get('message'):
            return str(inner['message'])
    return error.message


def _retryable(error: anthropic.APIError) -> bool:
    return not isinstance(error, anthropic.AuthenticationError | anthropic.PermissionDeniedError)
