// The official openai SDK through `client.fetch`, endpoint by endpoint: what docs/node.md's
// "What works through the official SDK" table promises. Every verdict counts requests the
// simulators logged (`GET /_sim/requests`) or compares bytes.
import { after, afterEach, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import OpenAI, { toFile } from 'openai'
import { Client } from '../lib/index.mjs'
import { BLUE_KEY, hello, pairOptions, startPair } from './helpers.mjs'

let pair
before(async () => {
  pair = await startPair()
})
beforeEach(() => Promise.all([pair.blue.reset(), pair.green.reset()]))
afterEach(() => Promise.all([pair.blue.setFaults({}), pair.green.setFaults({})]))
after(() => pair.stop())

/** A turnout client over the pair, and the SDK on its fetch (the SDK's own retries left on). */
function routed(extra = {}, sdk = {}) {
  const client = new Client(pairOptions(pair, extra))
  const openai = new OpenAI({ apiKey: 'sk-sdk-own-key-unused', baseURL: 'http://turnout/v1', fetch: client.fetch, ...sdk })
  return { client, openai }
}

/** The requests each side logged under `/v1`. */
async function logged() {
  const [blue, green] = await Promise.all([pair.blue.requests(), pair.green.requests()])
  const api = (log) => log.filter((r) => r.path.startsWith('/v1/'))
  return { blue: api(blue), green: api(green) }
}

/** A batch input file: one chat request per line. */
function batchInput(n) {
  const line = JSON.stringify({ custom_id: `r${n}`, method: 'POST', url: '/v1/chat/completions', body: hello(`line ${n}`) })
  return toFile(Buffer.from(line + '\n'), `batch-${n}.jsonl`, { type: 'application/jsonl' })
}

test('every header the SDK sets reaches the side; its key is replaced by the side’s', async () => {
  const { client } = routed({ canaryWeight: 0 })
  const sent = []
  const recording = (url, init) => {
    // Not the SDK's `data:` probe of its fetch (for multipart support).
    if (String(url).startsWith('http')) sent.push(new Headers(init.headers))
    return client.fetch(url, init)
  }
  const openai = new OpenAI({
    apiKey: 'sk-sdk-own-key-unused',
    baseURL: 'http://turnout/v1',
    fetch: recording,
    organization: 'org-42',
    project: 'proj-7',
    defaultHeaders: { 'X-Trace-Id': 'trace-abc' },
  })
  try {
    await openai.chat.completions.create(hello('headers'), { headers: { 'OpenAI-Beta': 'assistants=v2', 'Idempotency-Key': 'idem-1' } })
    await openai.files.create({ file: await batchInput(0), purpose: 'batch' })
    const stream = await openai.chat.completions.create({ ...hello('stream headers'), stream: true })
    for await (const _ of stream) {
      // drain
    }
    const { blue } = await logged()
    assert.equal(blue.length, 3)
    assert.equal(sent.length, 3)
    for (const [i, headers] of sent.entries()) {
      const got = blue[i].headers
      let checked = 0
      for (const [name, value] of headers) {
        if (name === 'authorization') continue
        assert.equal(got[name], value, `${blue[i].path}: header ${name}`)
        checked++
      }
      // The SDK's own headers are there: x-stainless-*, user-agent, accept, openai-*.
      assert.ok(checked >= 10, `only ${checked} headers compared`)
      // The side's key (its last 4 characters), not the SDK's.
      assert.equal(got.authorization, `Bearer ***${BLUE_KEY.slice(-4)}`)
    }
    assert.equal(blue[0].headers['openai-beta'], 'assistants=v2')
    assert.equal(blue[0].headers['idempotency-key'], 'idem-1')
    assert.equal(blue[0].headers['x-trace-id'], 'trace-abc')
    assert.equal(blue[0].headers['openai-organization'], 'org-42')
    // The multipart upload kept the boundary its body was encoded with.
    assert.equal(blue[1].content_type, sent[1].get('content-type') ?? blue[1].content_type)
    assert.match(blue[1].content_type, /^multipart\/form-data; boundary=/)
  } finally {
    client.close()
  }
})

test('files upload then batch create land on the side that has the file, 100 times under a 50 % canary', async () => {
  const { client, openai } = routed({ canaryWeight: 50 })
  try {
    const sides = { blue: 0, green: 0 }
    for (let i = 0; i < 100; i++) {
      const upload = await openai.files.create({ file: await batchInput(i), purpose: 'batch' }).withResponse()
      const fileSide = upload.response.headers.get('x-turnout-environment')
      const batch = await openai.batches
        .create({ input_file_id: upload.data.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
        .withResponse()
      assert.equal(batch.data.input_file_id, upload.data.id)
      assert.equal(batch.response.headers.get('x-turnout-environment'), fileSide, `batch ${i} went to the other side`)
      sides[fileSide]++
    }
    // Both sides held files: the canary split the uploads, and affinity kept each batch with its file.
    assert.ok(sides.blue > 0 && sides.green > 0, JSON.stringify(sides))
    const log = await logged()
    const count = (entries, path) => entries.filter((r) => r.method === 'POST' && r.path === path).length
    assert.equal(count(log.blue, '/v1/files'), sides.blue)
    assert.equal(count(log.blue, '/v1/batches'), sides.blue)
    assert.equal(count(log.green, '/v1/files'), sides.green)
    assert.equal(count(log.green, '/v1/batches'), sides.green)
    // No 404 anywhere: no batch met a side without its file.
    assert.ok([...log.blue, ...log.green].every((r) => r.status === 200), 'a request was answered with an error')
  } finally {
    client.close()
  }
})

test('responses.create then previous_response_id lands on the same side, under a 50 % canary', async () => {
  const { client, openai } = routed({ canaryWeight: 50 })
  try {
    const sides = { blue: 0, green: 0 }
    for (let i = 0; i < 40; i++) {
      const first = await openai.responses.create({ model: 'gpt-4.1', input: `first ${i}` }).withResponse()
      const side = first.response.headers.get('x-turnout-environment')
      const next = await openai.responses
        .create({ model: 'gpt-4.1', input: `second ${i}`, previous_response_id: first.data.id })
        .withResponse()
      assert.equal(next.data.previous_response_id, first.data.id)
      assert.equal(next.response.headers.get('x-turnout-environment'), side, `follow-up ${i} went to the other side`)
      sides[side]++
    }
    assert.ok(sides.blue > 0 && sides.green > 0, JSON.stringify(sides))
    const log = await logged()
    assert.ok([...log.blue, ...log.green].every((r) => r.status === 200), 'a follow-up met a 404')
  } finally {
    client.close()
  }
})

test('streamed responses: the follow-up of a streamed response lands on the same side, under a 50 % canary', async () => {
  const { client, openai } = routed({ canaryWeight: 50 })
  try {
    const sides = { blue: 0, green: 0 }
    for (let i = 0; i < 40; i++) {
      const { data: stream, response } = await openai.responses.create({ model: 'gpt-4.1', input: `streamed ${i}`, stream: true }).withResponse()
      const side = response.headers.get('x-turnout-environment')
      const types = []
      let id = null
      let text = ''
      for await (const event of stream) {
        types.push(event.type)
        if (event.type === 'response.output_text.delta') text += event.delta
        if (event.type === 'response.completed') id = event.response.id
      }
      assert.equal(types[0], 'response.created')
      assert.equal(types.at(-1), 'response.completed')
      assert.match(text, new RegExp(`streamed ${i}`))
      const followUp = await openai.responses.create({ model: 'gpt-4.1', input: 'and then', previous_response_id: id, stream: true }).withResponse()
      assert.equal(followUp.response.headers.get('x-turnout-environment'), side, `follow-up ${i} went to the other side`)
      let completed = null
      for await (const event of followUp.data) if (event.type === 'response.completed') completed = event.response
      assert.equal(completed.previous_response_id, id)
      sides[side]++
    }
    assert.ok(sides.blue > 0 && sides.green > 0, JSON.stringify(sides))
  } finally {
    client.close()
  }
})

test('audio speech: the bytes are those the side sent, and count as successes', async () => {
  const { client, openai } = routed({ canaryWeight: 0 })
  try {
    const params = { model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'the quick brown fox' }
    const speech = await openai.audio.speech.create(params)
    assert.equal(speech.headers.get('content-type'), 'audio/mpeg')
    const got = Buffer.from(await speech.arrayBuffer())
    // What the simulator sends for this request, asked for directly.
    const direct = await fetch(`${pair.blue.url}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BLUE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(params),
    })
    const expected = Buffer.from(await direct.arrayBuffer())
    assert.ok(expected.length > 2000)
    assert.ok(got.equals(expected), 'the audio bytes differ from what the side sent')
    const blue = client.status().environments.blue.window
    assert.equal(blue.successes, 1)
    assert.equal(blue.failures, 0)
    assert.equal(client.status().environments.green.window.requests, 0)
  } finally {
    client.close()
  }
})

test('the SDK’s maxRetries=2 against two failing sides makes exactly maxAttempts upstream requests', async () => {
  const { client, openai } = routed({ canaryWeight: 0, circuitBreaker: { failureThreshold: 1000 } }, { maxRetries: 2 })
  try {
    await pair.blue.setFaults({ error_rate: 1, error_status: 500 })
    await pair.green.setFaults({ error_rate: 1, error_status: 500 })
    await assert.rejects(openai.chat.completions.create(hello('failing')), (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, e.stack)
      assert.equal(e.status, 500)
      assert.equal(e.headers.get('x-should-retry'), 'false')
      return true
    })
    let log = await logged()
    assert.equal(log.blue.length + log.green.length, 3, 'retry.maxAttempts is 3')
    assert.ok(log.blue.length > 0 && log.green.length > 0, 'turnout failed over')

    // No HTTP answer at all: the synthetic 502 is not retried by the SDK either.
    await Promise.all([pair.blue.reset(), pair.green.reset()])
    await pair.blue.setFaults({ drop_connection: true })
    await pair.green.setFaults({ drop_connection: true })
    await assert.rejects(openai.chat.completions.create(hello('dropped')), (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, e.stack)
      assert.equal(e.status, 502)
      assert.match(e.message, /turnout/)
      return true
    })
    log = await logged()
    assert.equal(log.blue.length + log.green.length, 3)
  } finally {
    client.close()
  }
})

test('a timeout on a file upload is not retried, on the other side or by the SDK', async () => {
  const client = new Client(pairOptions(pair, { canaryWeight: 0, timeoutMs: 300 }))
  let calls = 0
  const counting = (url, init) => {
    if (String(url).startsWith('http')) calls++
    return client.fetch(url, init)
  }
  const openai = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: counting, maxRetries: 2 })
  try {
    await pair.blue.setFaults({ latency_ms: 2000 })
    await assert.rejects(openai.files.create({ file: await batchInput(1), purpose: 'batch' }), (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, e.stack)
      assert.equal(e.status, 504)
      assert.equal(e.headers.get('x-should-retry'), 'false')
      return true
    })
    assert.equal(calls, 1, 'the SDK retried')
    // One attempt, on blue (a simulator logs a request once it has answered it, which a
    // timed-out one never is: turnout's own count says it).
    const { blue, green } = client.status().environments
    assert.equal(blue.window.requests, 1)
    assert.equal(blue.window.failures, 1)
    assert.equal(green.window.requests, 0)
    assert.equal((await logged()).green.length, 0, 'the upload was sent to green')
  } finally {
    client.close()
  }
})

test('bad routing headers raise the SDK’s BadRequestError at once, with nothing sent upstream', async () => {
  const { client, openai } = routed({}, { maxRetries: 2 })
  try {
    await assert.rejects(openai.chat.completions.create(hello(), { headers: { 'x-turnout-environment': 'purple' } }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, e.stack)
      assert.match(e.message, /purple/)
      return true
    })
    await assert.rejects(openai.chat.completions.create(hello(), { headers: { 'x-turnout-metadata': '[1, 2]' } }), OpenAI.BadRequestError)
    const { blue, green } = await logged()
    assert.equal(blue.length + green.length, 0)
  } finally {
    client.close()
  }
})

test('an SDK whose baseURL path is not /v1: fetchBasePath and createFetch', async () => {
  const { client } = routed({ canaryWeight: 0, fetchBasePath: '/openai/v1' })
  try {
    const sdk = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/openai/v1', fetch: client.fetch, maxRetries: 0 })
    const resp = await sdk.chat.completions.create(hello('base path'))
    assert.match(resp.choices[0].message.content, /base path/)
    const baseURL = 'https://gateway.example/llm/'
    const other = new OpenAI({ apiKey: 'unused', baseURL, fetch: client.createFetch({ basePath: baseURL }), maxRetries: 0 })
    const models = await other.models.list()
    assert.ok(models.data.some((m) => m.id === 'gpt-4o'))
    const { blue } = await logged()
    assert.deepEqual(
      blue.map((r) => r.path),
      ['/v1/chat/completions', '/v1/models'],
    )
  } finally {
    client.close()
  }
})
