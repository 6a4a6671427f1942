// Login and token renewal (TokenSource) with a fake fetch.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LoginError, login, tokenExpiry } from '../dist/index.js';
import { TokenSource } from '../dist/auth.js';
import { fakeJwt } from './fakes.mjs';

function fakeFetch(answers) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, body: JSON.parse(init.body) });
    const [status, body] = answers.shift();
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  };
  return { calls, fetchImpl };
}

test('login posts the credentials and returns the answer', async () => {
  const { calls, fetchImpl } = fakeFetch([[200, { access_token: 't1', user_id: 'u1' }]]);
  const result = await login(
    { url: 'http://127.0.0.1:1/', username: 'alice', password: 'pw' },
    fetchImpl,
  );
  assert.deepEqual(result, { access_token: 't1', user_id: 'u1' });
  assert.deepEqual(calls, [
    { url: 'http://127.0.0.1:1/v1/login', body: { username: 'alice', password: 'pw' } },
  ]);
});

test('login failures are LoginErrors with status and code', async () => {
  const { fetchImpl } = fakeFetch([
    [401, { error: { code: 'bad_credentials', message: 'nope' } }],
    [200, { no: 'token' }],
    [500, 'not json'],
  ]);
  const opts = { url: 'http://127.0.0.1:1', username: 'a', password: 'b' };
  await assert.rejects(
    login(opts, fetchImpl),
    (e) => e instanceof LoginError && e.status === 401 && e.code === 'bad_credentials',
  );
  await assert.rejects(login(opts, fetchImpl), /no access_token/);
  await assert.rejects(login(opts, fetchImpl), (e) => e instanceof LoginError && e.status === 500);
});

test('a login token is renewed before it expires and after invalidate()', async () => {
  let now = 1_000_000_000_000;
  const soon = fakeJwt('alice', Math.floor(now / 1000) + 30); // inside the renewal minute
  const later = fakeJwt('alice', Math.floor(now / 1000) + 3600);
  const { calls, fetchImpl } = fakeFetch([
    [200, { access_token: soon }],
    [200, { access_token: later }],
    [200, { access_token: 'x.y.z' }],
  ]);
  const source = new TokenSource({
    login: { url: 'http://127.0.0.1:1', username: 'a', password: 'b' },
    fetch: fetchImpl,
    now: () => now,
  });
  const [t1, t2] = await Promise.all([source.get(), source.get()]);
  assert.equal(t1, soon);
  assert.equal(t2, soon, 'concurrent callers share one login');
  assert.equal(calls.length, 1);
  assert.equal(await source.get(), later, 'renewed: expires within a minute');
  assert.equal(await source.get(), later, 'kept while valid');
  assert.equal(calls.length, 2);
  source.invalidate();
  assert.equal(await source.get(), 'x.y.z');
  assert.equal(tokenExpiry(later), Math.floor(now / 1000) + 3600);
  assert.equal(tokenExpiry('garbage'), undefined);
  assert.throws(() => new TokenSource({ now: () => now }), /token/);
});
