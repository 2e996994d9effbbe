// Each error class, from a real upstream answer (or a real failure to get one).
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { inspect } from 'node:util'
import * as turnout from '../lib/index.mjs'
import { BLUE_KEY, GREEN_KEY, hello, pairOptions, startPair } from './helpers.mjs'

const {
  Client,
  TurnoutError,
  ConfigError,
  NoHealthyEnvironmentError,
  APIError,
  APIConnectionError,
  APITimeoutError,
  APIStatusError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
} = turnout

let pair
let client
before(async () => {
  pair = await startPair()
  // Circuits that never open: each test sees its own failure, not the previous test's.
  client = new Client(pairOptions(pair, { circuitBreaker: { failureThreshold: 100_000, windowSize: 1000, minCalls: 1000 } }))
})
afterEach(() => Promise.all([pair.blue.setFaults({}), pair.green.setFaults({})]))
after(async () => {
  client.close()
  await pair.stop()
})

/** Asserts that `promise` rejects with `Cls`, returns the error. */
async function rejectsWith(promise, Cls) {
  let caught
  await assert.rejects(promise, (e) => {
    caught = e
    return true
  })
  assert.ok(caught instanceof Cls, `expected ${Cls.name}, got ${caught && caught.stack}`)
  assert.ok(caught instanceof TurnoutError)
  assert.equal(caught.name, Cls.name)
  for (const key of [BLUE_KEY, GREEN_KEY]) {
    assert.ok(!caught.message.includes(key) && !inspect(caught).includes(key), 'no key in the error')
  }
  return caught
}

const pinned = { environment: 'blue' }

test('400 → BadRequestError with status, body and environment', async () => {
  const e = await rejectsWith(client.chat.completions.create({ model: 'gpt-4o-mini' }, pinned), BadRequestError)
  assert.ok(e instanceof APIStatusError && e instanceof APIError)
  assert.equal(e.code, 'status')
  assert.equal(e.status, 400)
  assert.equal(e.environment, 'blue')
  assert.equal(e.error.param, 'messages')
  assert.equal(typeof e.body, 'object')
  assert.equal(e.body.error.param, 'messages')
})

test('401 → AuthenticationError', async () => {
  const bad = new Client(pairOptions(pair, { blue: { baseUrl: pair.blue.url, apiKey: 'sk-wrong-key-000000000000' } }))
  const e = await rejectsWith(bad.chat.completions.create(hello(), pinned), AuthenticationError)
  assert.equal(e.status, 401)
  assert.equal(e.error.code, 'invalid_api_key')
  assert.ok(!e.message.includes('sk-wrong-key'))
  bad.close()
})

for (const [status, Cls] of [
  [403, PermissionDeniedError],
  [422, UnprocessableEntityError],
  [409, APIStatusError],
]) {
  test(`${status} → ${Cls.name}`, async () => {
    await pair.blue.setFaults({ error_rate: 1, error_status: status })
    const e = await rejectsWith(client.chat.completions.create(hello(), pinned), Cls)
    assert.equal(e.status, status)
  })
}

test('404 → NotFoundError (unknown model, unknown path)', async () => {
  await pair.blue.setFaults({ missing_models: ['gpt-4o-mini'] })
  const e = await rejectsWith(client.chat.completions.create(hello(), pinned), NotFoundError)
  assert.equal(e.status, 404)
  assert.equal(e.error.code, 'model_not_found')
  await rejectsWith(client.request('GET', '/nowhere'), NotFoundError)
})

test('429 → RateLimitError after the retries, with retryAfterMs', async () => {
  await pair.blue.setFaults({ error_rate: 1, error_status: 429, retry_after: 0.01 })
  const before = (await pair.blue.stats()).total
  const e = await rejectsWith(client.chat.completions.create(hello(), pinned), RateLimitError)
  assert.equal(e.status, 429)
  assert.ok(e.retryAfterMs > 0 && e.retryAfterMs <= 1000, `retryAfterMs ${e.retryAfterMs}`)
  assert.equal((await pair.blue.stats()).total - before, 3, 'three attempts')
})

test('5xx → InternalServerError', async () => {
  for (const status of [500, 503]) {
    await pair.blue.setFaults({ error_rate: 1, error_status: status })
    const e = await rejectsWith(client.chat.completions.create(hello(), pinned), InternalServerError)
    assert.equal(e.status, status)
  }
})

test('a refused connection → APIConnectionError', async () => {
  const server = createServer()
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const port = server.address().port
  await new Promise((r) => server.close(r))
  const c = new Client(pairOptions(pair, { blue: { baseUrl: `http://127.0.0.1:${port}/v1` } }))
  const e = await rejectsWith(c.chat.completions.create(hello(), pinned), APIConnectionError)
  assert.equal(e.code, 'connect')
  assert.equal(e.environment, 'blue')
  assert.ok(!(e instanceof APITimeoutError))
  c.close()
})

test('a dropped connection → APIConnectionError', async () => {
  await pair.blue.setFaults({ drop_connection: true })
  await rejectsWith(client.chat.completions.create(hello(), pinned), APIConnectionError)
})

test('a timeout → APITimeoutError (an APIConnectionError)', async () => {
  await pair.blue.setFaults({ latency_ms: 3000 })
  const e = await rejectsWith(client.chat.completions.create(hello(), { ...pinned, timeoutMs: 100 }), APITimeoutError)
  assert.ok(e instanceof APIConnectionError)
  assert.equal(e.code, 'timeout')
})

test('an answer that is not JSON → APIError with code "decode"', async () => {
  await pair.blue.setFaults({ malformed_json: true })
  const e = await rejectsWith(client.chat.completions.create(hello(), pinned), APIError)
  assert.equal(e.code, 'decode')
})

test('both circuits open → NoHealthyEnvironmentError', async () => {
  const c = new Client(pairOptions(pair, { circuitBreaker: { failureThreshold: 1, cooldownMs: 60_000 }, retry: { maxAttempts: 2, initialBackoffMs: 1 } }))
  await pair.blue.setFaults({ error_rate: 1, error_status: 500 })
  await pair.green.setFaults({ error_rate: 1, error_status: 500 })
  await rejectsWith(c.chat.completions.create(hello()), InternalServerError)
  const e = await rejectsWith(c.chat.completions.create(hello()), NoHealthyEnvironmentError)
  assert.equal(e.code, 'no_healthy_environment')
  assert.equal(c.status().environments.blue.circuit, 'open')
  c.close()
})

test('bad arguments → ConfigError', async () => {
  await rejectsWith(client.chat.completions.create(null), ConfigError)
  await rejectsWith(client.chat.completions.create(hello(), { timeoutMs: -5 }), ConfigError)
  await rejectsWith(client.request('POST', '/chat/completions', 'not an object'), ConfigError)
})

test('the hierarchy follows openai', () => {
  assert.ok(APITimeoutError.prototype instanceof APIConnectionError)
  assert.ok(APIConnectionError.prototype instanceof APIError)
  for (const Cls of [BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, UnprocessableEntityError, RateLimitError, InternalServerError]) {
    assert.ok(Cls.prototype instanceof APIStatusError)
  }
  assert.ok(APIStatusError.prototype instanceof APIError)
  assert.ok(turnout.StreamInterruptedError.prototype instanceof APIError)
  for (const Cls of [ConfigError, NoHealthyEnvironmentError, APIError]) assert.ok(Cls.prototype instanceof TurnoutError)
  assert.ok(TurnoutError.prototype instanceof Error)
})
