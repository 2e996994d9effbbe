// The official openai SDK routed by turnout through `client.fetch`.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import OpenAI from 'openai'
import { Client } from '../lib/index.mjs'
import { hello, pairOptions, startPair } from './helpers.mjs'

let pair
let client
let openai
before(async () => {
  pair = await startPair()
  client = new Client(pairOptions(pair, { canaryWeight: 0 }))
  openai = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: client.fetch, maxRetries: 0 })
})
afterEach(() => Promise.all([pair.blue.setFaults({}), pair.green.setFaults({})]))
after(async () => {
  client.close()
  await pair.stop()
})

test('chat completions through the SDK are routed, with each side its own key', async () => {
  const before = await pair.green.stats()
  const resp = await openai.chat.completions.create(hello('through the sdk'))
  assert.match(resp.choices[0].message.content, /through the sdk/)
  assert.equal(resp.system_fingerprint, 'fp_blue')

  client.switchTo('green')
  try {
    const { data, response } = await openai.chat.completions.create(hello('on green')).withResponse()
    assert.equal(data.system_fingerprint, 'fp_green')
    assert.equal(response.headers.get('x-turnout-environment'), 'green')
    // The same answer headers as the Python transports.
    assert.equal(response.headers.get('x-turnout-label'), 'v2')
    assert.equal(response.headers.get('x-turnout-attempts'), '1')
    assert.equal(response.headers.get('x-turnout-model'), data.model)
    const after = await pair.green.stats()
    assert.equal(after.total - before.total, 1)
  } finally {
    client.switchTo('blue')
  }
})

test('streaming through the SDK yields the chunks as server-sent events', async () => {
  const stream = await openai.chat.completions.create({ ...hello('one two three four'), stream: true })
  let text = ''
  let chunks = 0
  for await (const chunk of stream) {
    chunks++
    // Every chunk has a choice: the usage chunk turnout asked for is not passed on.
    text += chunk.choices[0].delta.content ?? ''
  }
  assert.ok(chunks >= 5)
  assert.match(text, /one two three four/)

  const withUsage = await openai.chat.completions.create({ ...hello('usage please'), stream: true, stream_options: { include_usage: true } })
  let usage = null
  for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage
  assert.ok(usage.total_tokens > 0)
})

test('the SDK can break out of a stream', async () => {
  const stream = await openai.chat.completions.create({ ...hello('a b c d e f g h i j k l'), stream: true })
  let n = 0
  for await (const _ of stream) if (++n === 2) break
  assert.equal(n, 2)
})

test('upstream error statuses come back as the SDK own errors', async () => {
  await pair.blue.setFaults({ error_rate: 1, error_status: 429 })
  await pair.green.setFaults({ error_rate: 1, error_status: 429 })
  await assert.rejects(openai.chat.completions.create(hello()), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.stack)
    assert.equal(e.status, 429)
    assert.equal(e.code, 'rate_limit_exceeded')
    return true
  })
  await pair.blue.setFaults({})
  await pair.green.setFaults({})
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o-mini' }), OpenAI.BadRequestError)
  await assert.rejects(openai.get('/no-such-endpoint'), OpenAI.NotFoundError)
})

test('a stream cut mid-way makes the SDK throw', async () => {
  await pair.blue.setFaults({ truncate_after: 2 })
  const stream = await openai.chat.completions.create({ ...hello('a b c d e f g h'), stream: true })
  await assert.rejects(async () => {
    for await (const _ of stream) {
      // consume
    }
  })
})

test('embeddings and models through the SDK', async () => {
  const emb = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' })
  assert.equal(emb.data[0].embedding.length, 8)
  const models = []
  for await (const m of openai.models.list()) models.push(m.id)
  assert.ok(models.includes('gpt-4o'))
})

test('routing options through headers', async () => {
  const resp = await openai.chat.completions.create(hello(), { headers: { 'x-turnout-environment': 'green' } })
  assert.equal(resp.system_fingerprint, 'fp_green')
  const ruled = new Client(pairOptions(pair, { rules: [{ match: { tier: 'premium' }, environment: 'green' }] }))
  const sdk = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: ruled.fetch })
  const premium = await sdk.chat.completions.create(hello(), { headers: { 'x-turnout-metadata': JSON.stringify({ tier: 'premium' }) } })
  assert.equal(premium.system_fingerprint, 'fp_green')
  ruled.close()
})

test('the SDK timeout aborts the routed request', async () => {
  await pair.blue.setFaults({ latency_ms: 3000 })
  const sdk = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: client.fetch, maxRetries: 0, timeout: 200 })
  const before = (await pair.blue.stats()).total
  await assert.rejects(sdk.chat.completions.create(hello()), OpenAI.APIConnectionTimeoutError)
  // Rejected before blue answered: the simulator counts a request once it has answered it.
  assert.equal((await pair.blue.stats()).total, before, 'the timeout did not wait for the answer')
})

test('fetch is a plain WHATWG fetch', async () => {
  const res = await client.fetch('http://turnout/v1/models')
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json')
  const body = await res.json()
  assert.equal(body.object, 'list')
  const req = new Request('http://turnout/v1/chat/completions', { method: 'POST', body: JSON.stringify(hello('req object')) })
  const res2 = await client.fetch(req)
  assert.match((await res2.json()).choices[0].message.content, /req object/)
  const res3 = await client.fetch(new URL('http://turnout/v1/nowhere'))
  assert.equal(res3.status, 404)
  assert.equal(res3.headers.get('x-should-retry'), 'false')
  assert.equal((await res3.json()).error.code, 'unknown_url')
})

test('fetch refuses bodies it cannot route', async () => {
  const { ConfigError } = await import('../lib/index.mjs')
  const form = new FormData()
  form.append('file', new Blob(['x']), 'a.txt')
  await assert.rejects(client.fetch('http://turnout/v1/files', { method: 'POST', body: form }), ConfigError)
  await assert.rejects(client.fetch('http://turnout/v1/chat/completions', { method: 'POST', body: 'not json' }), ConfigError)
  await assert.rejects(client.fetch('http://turnout/v1/models', { signal: AbortSignal.abort() }), (e) => e.name === 'AbortError')
})
