// The official openai SDK routed by turnout through `client.fetch`.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import OpenAI from 'openai'
import { Client } from '../lib/index.mjs'
import { BLUE_KEY, hello, pairOptions, startPair } from './helpers.mjs'

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

/**
 * A client routed through turnout, and the official SDK on its fetch with its default
 * `maxRetries` (2) and `sdkOptions`, counting the SDK's fetches (one per try of the SDK).
 */
function underSdkTimeout(options, sdkOptions) {
  const routed = new Client(pairOptions(pair, { canaryWeight: 0, ...options }))
  const counts = { fetches: 0 }
  const counting = (url, init) => {
    if (String(url).startsWith('http')) counts.fetches++
    return routed.fetch(url, init)
  }
  const sdk = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: counting, ...sdkOptions })
  return { routed, sdk, counts }
}

/** The 504 turnout answers with once the SDK's time is (nearly) up. */
function turnoutTimedOut(e) {
  assert.ok(e instanceof OpenAI.InternalServerError, e.stack)
  assert.equal(e.status, 504)
  assert.equal(e.headers.get('x-should-retry'), 'false')
  assert.equal(e.code, 'timeout')
  return true
}

test('a hung side: turnout answers a 504 before the SDK timeout, which neither aborts nor retries', async () => {
  await pair.blue.setFaults({ latency_ms: 5000 })
  // turnout's own timeout (10 s) outlasts the SDK's: without the SDK's, turnout would wait.
  // The SDK client's timeout, told to turnout (the SDK does not send it).
  const told = underSdkTimeout({ fetchTimeoutMs: 1500 }, { timeout: 1500 })
  // A request's own timeout, which the SDK sends (`X-Stainless-Timeout: 1`).
  const sent = underSdkTimeout({}, {})
  try {
    await assert.rejects(told.sdk.chat.completions.create(hello()), turnoutTimedOut)
    await assert.rejects(sent.sdk.chat.completions.create(hello(), { timeout: 1500 }), turnoutTimedOut)
    for (const { routed, counts } of [told, sent]) {
      assert.equal(counts.fetches, 1, 'the SDK retried')
      // One attempt reached an upstream (a simulator logs a request once it has answered
      // it, which a cut one never is: turnout's own count says it), cut by the SDK's time:
      // the caller's (cancelled), not a failure of blue.
      const { blue, green } = routed.status().environments
      assert.deepEqual([blue.window.cancelled, blue.window.requests], [1, 0])
      assert.deepEqual([green.window.cancelled, green.window.requests], [0, 0])
    }
  } finally {
    told.routed.close()
    sent.routed.close()
  }
})

test('within the SDK timeout a hung side fails over, and the last attempt gets only what is left', async () => {
  // turnout's 1.5 s timeout leaves time, in the SDK's 2.5 s, for the other side.
  const { routed, sdk, counts } = underSdkTimeout({ timeoutMs: 1500, fetchTimeoutMs: 2500 }, { timeout: 2500 })
  try {
    await pair.blue.setFaults({ latency_ms: 10_000 })
    const { data, response } = await sdk.chat.completions.create(hello('failed over')).withResponse()
    assert.equal(data.system_fingerprint, 'fp_green')
    assert.equal(response.headers.get('x-turnout-attempts'), '2')
    assert.equal(counts.fetches, 1)

    // Both hang: blue times out at 1.5 s, green's attempt is cut at the SDK's 2.5 s less the
    // margin (250 ms), and neither turnout's third attempt nor the SDK's retries follow.
    await pair.green.setFaults({ latency_ms: 10_000 })
    await assert.rejects(sdk.chat.completions.create(hello()), turnoutTimedOut)
    assert.equal(counts.fetches, 2, 'the SDK retried')
    const { blue, green } = routed.status().environments
    // Blue: two timeouts of its own. Green: the answer, then the attempt cut by the SDK's time.
    assert.deepEqual([blue.window.failures, blue.window.cancelled], [2, 0])
    assert.deepEqual([green.window.successes, green.window.cancelled, green.window.failures], [1, 1, 0])
  } finally {
    routed.close()
  }
})

test('the SDK timeout option of the fetch is checked', async () => {
  const { ConfigError } = await import('../lib/index.mjs')
  for (const bad of [0, -1, Number.NaN, Infinity, '1500']) {
    assert.throws(() => new Client(pairOptions(pair, { fetchTimeoutMs: bad })), ConfigError, String(bad))
    assert.throws(() => client.createFetch({ timeoutMs: bad }), ConfigError, String(bad))
  }
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

test('fetch sends every kind of body byte for byte, with the content type fetch would give it', async () => {
  const { ConfigError } = await import('../lib/index.mjs')
  await pair.blue.reset()
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256)
  const form = new FormData()
  form.append('purpose', 'batch')
  form.append('file', new Blob([bytes]), 'data.bin')
  const upload = await client.fetch('http://turnout/v1/files', { method: 'POST', body: form })
  assert.equal(upload.status, 200)
  const file = await upload.json()
  assert.equal(file.bytes, bytes.length)
  const content = await client.fetch(`http://turnout/v1/files/${file.id}/content`)
  assert.deepEqual(new Uint8Array(await content.arrayBuffer()), bytes)

  const streamed = new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.subarray(0, 100))
      controller.enqueue(bytes.subarray(100))
      controller.close()
    },
  })
  const bodies = [
    ['string', 'not json at all', 'text/plain;charset=UTF-8', 15],
    ['ArrayBuffer', bytes.buffer, null, 300],
    ['typed array view', bytes.subarray(10, 20), null, 10],
    ['Blob', new Blob([bytes], { type: 'application/octet-stream' }), 'application/octet-stream', 300],
    ['URLSearchParams', new URLSearchParams({ a: '1', b: 'two' }), 'application/x-www-form-urlencoded;charset=UTF-8', 9],
    ['ReadableStream', streamed, null, 300],
  ]
  for (const [what, body, type, length] of bodies) {
    const res = await client.fetch('http://turnout/v1/echo-nowhere', { method: 'POST', body, duplex: 'half' })
    assert.equal(res.status, 404, what)
    assert.equal(res.headers.get('x-should-retry'), 'false', what)
  }
  const log = (await pair.blue.requests()).filter((r) => r.path === '/v1/echo-nowhere')
  assert.equal(log.length, bodies.length)
  for (const [i, [what, , type, length]] of bodies.entries()) {
    assert.equal(log[i].body_length, length, what)
    assert.equal(log[i].content_type ?? null, type, what)
  }
  // A caller's content type wins over the body's.
  await client.fetch('http://turnout/v1/echo-nowhere', { method: 'POST', body: 'x', headers: { 'Content-Type': 'application/x-custom' } })
  assert.equal((await pair.blue.requests()).at(-1).content_type, 'application/x-custom')

  // Not JSON to a JSON endpoint: the side's own 400, not a refusal by turnout.
  const bad = await client.fetch('http://turnout/v1/chat/completions', { method: 'POST', body: 'not json' })
  assert.equal(bad.status, 400)
  await assert.rejects(client.fetch('http://turnout/v1/files', { method: 'POST', body: { not: 'a body' } }), ConfigError)
  await assert.rejects(client.fetch('http://turnout/v1/models', { signal: AbortSignal.abort() }), (e) => e.name === 'AbortError')
})

test('binary answers come back as the side sent them', async () => {
  const body = JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'binary please' })
  const init = { method: 'POST', body, headers: { 'content-type': 'application/json' } }
  const res = await client.fetch('http://turnout/v1/audio/speech', init)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'audio/mpeg')
  assert.equal(res.headers.get('x-turnout-environment'), 'blue')
  const direct = await fetch(`${pair.blue.url}/audio/speech`, { ...init, headers: { ...init.headers, authorization: `Bearer ${BLUE_KEY}` } })
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(await direct.arrayBuffer())))
})

test('aborting a streamed answer mid-way errors its body and closes the upstream stream', async () => {
  await pair.blue.setFaults({ latency_ms: 0 })
  const controller = new AbortController()
  const res = await client.fetch('http://turnout/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...hello('a b c d e f g h i j k l m n o p'), stream: true }),
    signal: controller.signal,
  })
  assert.equal(res.headers.get('content-type'), 'text/event-stream')
  const reader = res.body.getReader()
  const first = await reader.read()
  assert.match(new TextDecoder().decode(first.value), /^data: /)
  controller.abort()
  await assert.rejects(async () => {
    for (;;) {
      const { done } = await reader.read()
      if (done) break
    }
  }, (e) => e.name === 'AbortError')
})

test('a base path other than /v1', async () => {
  const { routedPath, normalizeBasePath } = await import('../lib/fetch.js')
  const url = new URL('http://turnout/openai/v1/files?purpose=batch')
  assert.equal(routedPath(url, normalizeBasePath('/openai/v1/')), '/files?purpose=batch')
  assert.equal(routedPath(url, normalizeBasePath('http://turnout/openai/v1')), '/files?purpose=batch')
  assert.equal(routedPath(url, normalizeBasePath(undefined)), '/openai/v1/files?purpose=batch')
  assert.equal(routedPath(new URL('http://turnout/v1'), normalizeBasePath('/v1')), '/')
  assert.equal(routedPath(new URL('http://turnout/v10/x'), normalizeBasePath('/v1')), '/v10/x')
  assert.equal(routedPath(new URL('http://turnout/models'), normalizeBasePath('')), '/models')
  const { ConfigError } = await import('../lib/index.mjs')
  assert.throws(() => new Client(pairOptions(pair, { fetchBasePath: 42 })), ConfigError)
})

test('header values go as fetch sends them: one Latin-1 byte per character, both ways', async () => {
  const { createServer } = await import('node:net')
  // A side that records the raw bytes of each request head and answers with a Latin-1 header.
  const heads = []
  const server = createServer((socket) => {
    let head = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      head = Buffer.concat([head, chunk])
      if (head.includes('\r\n\r\n')) {
        heads.push(head)
        socket.end(Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-echo: '),
          Buffer.from('José', 'latin1'),
          Buffer.from('\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'),
        ]))
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}/v1`
  const routed = new Client({ ...pairOptions(pair), blue: { baseUrl: base, apiKey: BLUE_KEY }, green: { baseUrl: base, apiKey: BLUE_KEY } })
  try {
    const init = { headers: { 'x-end-user': 'José' } }
    const direct = await fetch(`${base}/models`, init)
    const res = await routed.fetch('http://turnout/v1/models', init)
    assert.equal(res.status, 200)
    assert.equal(direct.headers.get('x-echo'), 'José')
    assert.equal(res.headers.get('x-echo'), 'José')
    const line = Buffer.from('\r\nx-end-user: Jos\xe9\r\n', 'latin1')
    assert.ok(heads[0].includes(line), 'undici sends é as the one byte 0xE9')
    assert.ok(heads[1].includes(line), `turnout sends what fetch would: ${heads[1].toString('latin1')}`)
    // A character a ByteString cannot hold never reaches the side.
    const wide = await routed.fetch('http://turnout/v1/models', { headers: [['x-end-user', 'Jos€']] })
    assert.equal(wide.status, 400)
    assert.equal(heads.length, 2)
  } finally {
    routed.close()
    server.close()
  }
})
