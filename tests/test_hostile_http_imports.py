"""Hostile HTTP: hostile imports, refused whole or made into a healthy room, and imports over the size limit.
The apps are in hostile_support."""
from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import hostile_support
import pytest
from hostile_support import DEEP, MAX_IMPORT, Site, assert_healthy_room, is_json_error, raw_request

sites = hostile_support.sites
token_site = hostile_support.token_site



# 7. Hostile imports -------------------------------------------------------------------------------------------

Builder = Callable[[dict[str, Any]], bytes]
OK, BAD, EITHER = frozenset({201}), frozenset({400}), frozenset({201, 400})
M0, M1 = ('messages', 0), ('messages', 1)
VERSION = ('messages', 1, 'versions', 0)
TAIL = (*VERSION, 'tail', 0)
SPLICE = 'SPLICE-HERE-0f1e2d'


def encoded(doc: Any) -> bytes:
    return json.dumps(doc).encode()  # NaN and Infinity as Python writes them


def versioned(doc: dict[str, Any]) -> dict[str, Any]:
    """The export with an older version of its reply that has two messages after it (as a regenerate leaves it)."""
    doc = copy.deepcopy(doc)
    user, reply = doc['messages']
    tail = [{**user, 'id': 'tail-user', 'seq': 10, 'content': 'an older question', 'author': 'Ann'},
            {**reply, 'id': 'tail-reply', 'seq': 11, 'content': 'an older answer'}]
    reply['versions'] = [{'content': 'the first reply', 'status': 'complete', 'model': 'demo', 'error': None,
                          'created_at': reply['created_at'], 'author': None, 'usage': None, 'tail': tail}]
    reply['version'] = 1
    return doc


def same(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def changed(path: tuple[Any, ...], value: Any, base: Callable[[dict[str, Any]], dict[str, Any]] = same,
            delete: bool = False) -> Builder:
    def build(doc: dict[str, Any]) -> bytes:
        doc = base(doc)
        target = doc
        for key in path[:-1]:
            target = target[key]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return encoded(doc)
    return build


def spliced(path: tuple[Any, ...], raw: str, base: Callable[[dict[str, Any]], dict[str, Any]] = same) -> Builder:
    """The JSON text with `raw` written by hand where the value at `path` was (lone surrogate escapes, deep nests)."""
    def build(doc: dict[str, Any]) -> bytes:
        text = changed(path, SPLICE, base)(doc).decode()
        assert text.count(f'"{SPLICE}"') == 1
        return text.replace(f'"{SPLICE}"', raw).encode()
    return build


def raw_body(data: bytes) -> Builder:
    return lambda doc: data


def nested_versions(depth: int) -> Builder:
    """A reply with versions whose messages have versions, `depth` levels deep."""
    def build(doc: dict[str, Any]) -> bytes:
        doc = copy.deepcopy(doc)
        user, reply = doc['messages']

        def message(level: int) -> dict[str, Any]:
            record = {**reply, 'id': f'deep-{level}', 'seq': 1, 'versions': [], 'version': 0}
            if level < depth:
                record['versions'] = [{'content': f'level {level}', 'status': 'complete', 'model': None,
                                       'error': None, 'created_at': 1.0e9, 'author': None,
                                       'tail': [message(level + 1)]}]
                record['version'] = 1
            return record
        doc['messages'] = [user, {**message(0), 'seq': 2}]
        return encoded(doc)
    return build


def odd_values(path: tuple[Any, ...], values: list[Any], expected: frozenset[int] = BAD,
               base: Callable[[dict[str, Any]], dict[str, Any]] = same) -> list[Any]:
    name = '.'.join(str(p) for p in path)
    return [pytest.param(changed(path, value, base), expected, id=f'{name}={value!r}'[:60]) for value in values]


SURROGATES = ['"a\\ud800b"', '"\\udc00"', '"x\\ud800"', '"\\ud800\\ud800"', '"\\ude00\\ud83d"', '"\\udfff tail"']

IMPORT_CASES = [
    pytest.param(encoded, OK, id='the export itself'),
    pytest.param(lambda doc: encoded(versioned(doc)), OK, id='with a version'),
    pytest.param(lambda doc: b'\xef\xbb\xbf' + encoded(doc), OK, id='UTF-8 BOM'),
    pytest.param(changed(('extra',), {'nested': [1, {'a': None}]}), OK, id='unknown top field'),
    pytest.param(changed((*M0, 'extra'), [1, 2, 3]), OK, id='unknown message field'),
    pytest.param(changed((*M1, 'status'), 'streaming'), OK, id='a streaming reply'),
    pytest.param(changed((*M1, 'content'), '<script>alert(1)</script>\x00\x1b[31m\u202e'), OK, id='markup content'),
    pytest.param(changed((*M0, 'content'), '\U0001F600 \ud83d\ude00'.encode('utf-16', 'surrogatepass')
                         .decode('utf-16')), OK, id='emoji'),
    pytest.param(changed((*M0, 'seq'), 0), OK, id='seq 0'),
    pytest.param(changed((*M0, 'created_at'), 0), OK, id='created_at 0'),
    pytest.param(changed((*M1, 'versions'), []), OK, id='versions empty'),
    # the document
    *[pytest.param(raw_body(data), BAD, id=f'document {data!r}'[:40])
      for data in (b'[]', b'5', b'"rooms-export"', b'null', b'true', b'{}', b'[{"format": "rooms-export"}]')],
    pytest.param(changed(('format',), None, delete=True), BAD, id='format missing'),
    *odd_values(('format',), ['Rooms-Export', 5, None, ['rooms-export']]),
    *odd_values(('version',), [2, 0, True, '1', None, [1], 10**30]),
    *odd_values(('title',), [5, [], {}, None, True, 'x' * 100_000, '\x00\n\u2028<b>t</b>'], EITHER),
    # the list of messages
    pytest.param(changed(('messages',), None, delete=True), BAD, id='messages missing'),
    *odd_values(('messages',), [{}, 'x', 5, None, [], True, {'0': {}}]),
    *odd_values(M0, [[], 5, 'x', None, True, 1.5, {}]),
    # fields of a message
    *[pytest.param(changed((*M0, name), None, delete=True), BAD, id=f'{name} missing')
      for name in ('id', 'seq', 'role', 'content', 'status', 'created_at')],
    *odd_values((*M0, 'id'), [5, None, 'a.b', '', 'x' * 65, '../../etc/passwd', 'a b', ['m']]),
    pytest.param(lambda doc: changed((*M1, 'id'), doc['messages'][0]['id'])(doc), BAD, id='id used twice'),
    *odd_values((*M0, 'seq'), ['1', True, False, 1.5, -1, 10**30, 2**53 + 1, None, [1], float('nan')]),
    pytest.param(spliced((*M0, 'seq'), '1' * 5000), BAD, id='seq of 5000 digits'),
    pytest.param(lambda doc: changed((*M1, 'seq'), doc['messages'][0]['seq'])(doc), BAD, id='seq repeated'),
    *odd_values((*M0, 'created_at'), ['now', float('nan'), float('inf'), float('-inf'), -1, 10**30, 1e300, True,
                                      None, [], '1700000000']),
    pytest.param(spliced((*M0, 'created_at'), '1e400'), BAD, id='created_at 1e400'),
    pytest.param(spliced((*M0, 'created_at'), '9' * 5000), BAD, id='created_at of 5000 digits'),
    *odd_values((*M0, 'content'), [5, [], None, {}, True, 1.5, ['text']]),
    *odd_values((*M0, 'role'), ['system', 'USER', '', 5, None, ['user'], 'user '], BAD),
    *odd_values((*M1, 'status'), ['done', 'COMPLETE', '', 5, None, ['complete']]),
    *[value for name in ('author', 'model', 'error')
      for value in odd_values((*M1, name), [5, [], {}, True, 1.5])],
    *odd_values((*M0, 'author'), ['x' * 201]),
    *odd_values((*M0, 'author'), ['Ann\nBob\x00', ' ', '\u202eevil'], OK),
    *odd_values((*M1, 'versions'), [{}, [1, 2], ['x'], [None], 'x', 5, [[]], True]),
    *odd_values((*M1, 'version'), [-1, 99, '0', True, 1.5, None], EITHER),
    *odd_values((*M1, 'version'), [2, -1, '1', True, 1.5], BAD, base=versioned),
    *odd_values((*M1, 'usage'), ['x', [1], {'input_tokens': -1}, {'input_tokens': '1'}, {'input_tokens': 1.5},
                                 {'input_tokens': 10**30}, {'output_tokens': None}, 5]),
    *odd_values((*M1, 'left_out'), [-1, '1', 1.5, True, 10**30]),
    # versions and the messages after them
    pytest.param(changed((*VERSION, 'tail'), None, base=versioned, delete=True), BAD, id='tail missing'),
    *odd_values((*VERSION, 'tail'), [{}, 5, 'x', None, [1], [None], [[]], True], base=versioned),
    *odd_values((*VERSION, 'content'), [5, None, []], base=versioned),
    *odd_values((*VERSION, 'status'), ['x', 5, None], base=versioned),
    *odd_values((*VERSION, 'created_at'), [float('nan'), -5, 'then'], base=versioned),
    *odd_values((*VERSION, 'author'), [5, ['x'], 'x' * 201], base=versioned),
    *odd_values((*VERSION, 'model'), [[], 5], base=versioned),
    *odd_values((*VERSION, 'error'), [{}, 5], base=versioned),
    *odd_values((*TAIL, 'content'), [5, None, {}], base=versioned),
    *odd_values((*TAIL, 'seq'), ['x', -1, 1.5, 10**30], base=versioned),
    *odd_values((*TAIL, 'role'), ['system'], base=versioned),
    *odd_values((*TAIL, 'status'), ['x'], base=versioned),
    *odd_values((*TAIL, 'versions'), [{}, [5]], base=versioned),
    pytest.param(lambda doc: changed((*TAIL, 'id'), doc['messages'][0]['id'], base=versioned)(doc), BAD,
                 id='tail id used twice'),
    pytest.param(nested_versions(50), OK, id='versions 50 deep'),
    pytest.param(nested_versions(51), BAD, id='versions 51 deep'),
    pytest.param(nested_versions(100), BAD, id='versions 100 deep'),
    # lone surrogates, written by hand (json.dumps would not)
    *[pytest.param(spliced(path, raw, base), OK, id=f'surrogate {raw} in {".".join(map(str, path))}')
      for path, base in [((*M0, 'content'), same), ((*M0, 'author'), same), ((*M1, 'model'), same),
                         ((*M1, 'error'), same), (('title',), same), ((*VERSION, 'content'), versioned),
                         ((*VERSION, 'author'), versioned), ((*VERSION, 'model'), versioned),
                         ((*VERSION, 'error'), versioned), ((*TAIL, 'content'), versioned),
                         ((*TAIL, 'author'), versioned), ((*TAIL, 'model'), versioned)]
      for raw in (SURROGATES if path == (*M0, 'content') else SURROGATES[:1])],
    pytest.param(lambda doc: encoded(versioned(doc)).replace(b'"tail-user"', b'"tail-user", "\\ud800": "\\udc00"'),
                 EITHER, id='surrogate as a key'),
    pytest.param(spliced((*M1, 'usage'), '{"\\ud800": 1}'), EITHER, id='surrogate as a usage key'),
    *[pytest.param(spliced(path, '"\\ud800"'), BAD, id=f'surrogate as {path[-1]}')
      for path in [(*M0, 'id'), (*M0, 'role'), (*M1, 'status'), ('format',)]],
    pytest.param(lambda doc: encoded(doc).replace(f'"{doc["messages"][0]["content"]}"'.encode(),
                                                  b'"CESU \xed\xa0\x80 bytes"', 1), BAD, id='surrogate as raw bytes'),
    # nesting
    pytest.param(raw_body(DEEP.encode()), BAD, id='10000 deep list'),
    pytest.param(raw_body(('{"a":' * 10_000 + '0' + '}' * 10_000).encode()), BAD, id='10000 deep object'),
    *[pytest.param(spliced(path, DEEP, base), BAD, id=f'10000 deep in {".".join(map(str, path))}')
      for path, base in [((*M0, 'content'), same), ((*M0, 'author'), same), (('title',), same), (('messages',), same),
                         ((*M1, 'versions'), same), ((*M1, 'usage'), same), ((*VERSION, 'tail'), versioned),
                         ((*TAIL, 'content'), versioned), (('extra',), same)]],
    # not UTF-8, not JSON
    pytest.param(lambda doc: json.dumps(doc).encode('utf-16'), BAD, id='UTF-16'),
    pytest.param(lambda doc: json.dumps(doc).encode('utf-32'), BAD, id='UTF-32'),
    pytest.param(lambda doc: spliced((*M0, 'content'), '"caf\u00e9"')(doc).decode().encode('latin-1'), BAD,
                 id='Latin-1'),
    *[pytest.param(raw_body(data), BAD, id=f'not JSON {data[:20]!r}')
      for data in (b'', b' ', b'hello', b'{', b'}', b'\x00' * 10, b'\x80\x81', b'NaN', b'Infinity', b'-',
                   b'{"format": "rooms-export"', b"{'format': 'rooms-export'}", b'\xff\xfe{\x00}\x00')],
    pytest.param(lambda doc: encoded(doc)[: len(encoded(doc)) // 2], BAD, id='cut in half'),
    pytest.param(lambda doc: encoded(doc) + b' x', BAD, id='trailing garbage'),
    pytest.param(lambda doc: encoded(doc) + encoded(doc), BAD, id='two documents'),
]


@pytest.fixture(scope='module')
def export_doc(token_site: Site) -> dict[str, Any]:
    doc = token_site.owner.get('/api/rooms/exported/export.json').json()
    assert doc['format'] == 'rooms-export' and [m['role'] for m in doc['messages']] == ['user', 'assistant']
    return doc




@pytest.mark.parametrize(('build', 'expected'), IMPORT_CASES)
def test_a_hostile_import_is_refused_whole_or_makes_a_healthy_room(
        token_site: Site, export_doc: dict[str, Any], build: Builder, expected: frozenset[int]) -> None:
    site = token_site
    body = build(export_doc)
    rooms_before, files_before = site.rooms(), site.files()
    response = site.owner.post('/api/rooms/import', content=body, headers={'Content-Type': 'application/json'})
    assert response.status_code in expected, (response.status_code, response.text[:300])
    if response.status_code == 201:
        room = response.json()['room']
        assert room not in rooms_before and response.json()['url'] == f'/room/{room}'
        assert_healthy_room(site, room)
        rooms_after = site.rooms()
        assert {k: v for k, v in rooms_after.items() if k != room} == rooms_before, 'an import changed another room'
        assert rooms_after[room][1] >= 1
    else:
        assert is_json_error(response), response.text[:300]
        assert site.rooms() == rooms_before and site.files() == files_before, 'a refused import left something'


def test_an_import_of_5000_messages_is_accepted_and_opens(token_site: Site, export_doc: dict[str, Any]) -> None:
    site = token_site
    user, reply = export_doc['messages']
    records = [{**(user if n % 2 == 0 else reply), 'id': f'm{n}', 'seq': n + 1, 'content': f'message {n}'}
               for n in range(5000)]
    response = site.owner.post('/api/rooms/import', content=encoded({**export_doc, 'messages': records}))
    assert response.status_code == 201, response.text[:300]
    room = response.json()['room']
    started_at = time.monotonic()
    messages = assert_healthy_room(site, room)
    assert len(messages) == 5000 and messages[-1]['content'] == 'message 4999'
    assert site.rooms()[room][1] == 5000
    assert time.monotonic() - started_at < 30


def test_an_import_over_the_limit_is_413_and_creates_nothing(token_site: Site) -> None:
    site = token_site
    rooms_before, files_before = site.rooms(), site.files()
    # a declared length over the limit is refused before the body is read
    status, headers, content = raw_request(
        site.port, 'POST', '/api/rooms/import',
        {**site.auth, 'Content-Type': 'application/json', 'Content-Length': str(MAX_IMPORT + 1)},
        body=b'{"format": "rooms-export", "version": 1, "messages": [')
    assert status == 413 and is_json_error((status, headers, content)), (status, content[:200])

    def streamed() -> Iterator[bytes]:  # no length: refused once more than the limit arrived
        yield b'{"format": "rooms-export", "version": 1, "messages": [{"content": "'
        for _ in range(MAX_IMPORT // 2**20 + 1):
            yield b'a' * (1024 * 1024)
        yield b'"}]}'
    response = site.owner.post('/api/rooms/import', content=streamed())
    assert response.status_code == 413 and is_json_error(response), response.text[:200]
    whole = b'{"format": "rooms-export", "version": 1, "messages": [], "pad": "' + b'p' * MAX_IMPORT + b'"}'
    response = site.owner.post('/api/rooms/import', content=whole)
    assert response.status_code == 413 and is_json_error(response), response.text[:200]
    assert site.rooms() == rooms_before and site.files() == files_before
