// Streams: complete, cut after data reached the caller, and left early (which must cancel the
// upstream request).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { APIError, Client, StreamInterruptedError, Stream } from '../lib/index.mjs'
import { eventually, hello, pairOptions, sleep, startPair } from './helpers.mjs'

let pair
let client
before(async () => {
  pair = await startPair()
  client = new Client(pairOptions(pair))
})
after(async () => {
  client.close()
  await pair.stop()
})

const words = 'alpha beta gamma delta epsilon zeta eta theta'

test('a complete stream yields every chunk, then ends', async () => {
  const stream = await client.chat.completions.create({ ...hello(words), stream: true })
  assert.ok(stream instanceof Stream)
  assert.equal(stream.route.environment, 'blue')
  let text = ''
  let chunks = 0
  let finish = null
  for await (const chunk of stream) {
    chunks++
    assert.equal(chunk.object, 'chat.completion.chunk')
    // turnout asks for usage on the caller's behalf, reads it, and keeps that chunk to itself.
    assert.equal(chunk.choices.length, 1)
    const choice = chunk.choices[0]
    if (choice.delta.content) text += choice.delta.content
    if (choice.finish_reason) finish = choice.finish_reason
  }
  assert.ok(chunks > 8)
  assert.match(text, /alpha beta gamma delta epsilon zeta eta theta/)
  assert.equal(finish, 'stop')
  assert.ok(client.costs().total.completionTokens > 0, 'the usage was read')
  // Iterating again after the end yields nothing.
  for await (const _ of stream) assert.fail('no more chunks')
})

test('a stream cut after data reached the caller raises StreamInterruptedError', async () => {
  await pair.blue.setFaults({ truncate_after: 3 })
  try {
    const stream = await client.chat.completions.create({ ...hello(words), stream: true })
    const got = []
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) got.push(chunk)
      })(),
      (e) => {
        assert.ok(e instanceof StreamInterruptedError, e.stack)
        assert.ok(e instanceof APIError)
        assert.equal(e.code, 'stream_interrupted')
        assert.equal(e.environment, 'blue')
        return true
      },
    )
    assert.ok(got.length >= 1)
  } finally {
    await pair.blue.setFaults({})
  }
})

test('a failure before the first event is retried on the other side', async () => {
  await pair.blue.setFaults({ fail_next: 5, error_status: 503 })
  try {
    const stream = await client.chat.completions.create({ ...hello('failover'), stream: true })
    assert.equal(stream.route.environment, 'green')
    assert.ok(stream.route.attempts >= 2)
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    assert.match(text, /failover/)
  } finally {
    await pair.blue.setFaults({})
  }
})

test('streams through request() as well', async () => {
  const stream = await client.request('POST', '/chat/completions', { ...hello('via request'), stream: true, stream_options: { include_usage: false } })
  let usage = false
  let n = 0
  for await (const chunk of stream) {
    n++
    if (chunk.usage) usage = true
  }
  assert.ok(n > 2)
  assert.equal(usage, false)
})

/** An upstream that streams a chunk every 20 ms until the client goes away. */
async function endlessUpstream() {
  const state = { requests: 0, closed: 0 }
  const server = createServer((req, res) => {
    state.requests++
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let i = 0
    const timer = setInterval(() => {
      const chunk = { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content: `w${i++} ` }, finish_reason: null }] }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`)
    }, 20)
    res.on('close', () => {
      clearInterval(timer)
      state.closed++
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${server.address().port}/v1`
  return { state, url, close: () => new Promise((r) => server.close(r)) }
}

test('leaving a stream early (break) cancels the upstream request', async () => {
  const upstream = await endlessUpstream()
  const c = new Client({ blue: { baseUrl: upstream.url }, green: { baseUrl: upstream.url }, healthCheck: { enabled: false } })
  try {
    const stream = await c.chat.completions.create({ ...hello(), stream: true })
    let n = 0
    for await (const _ of stream) {
      if (++n === 3) break
    }
    assert.equal(n, 3)
    await eventually(() => upstream.state.closed === 1, 3000)

    // close() does the same, also while a next() is pending.
    const s2 = await c.chat.completions.create({ ...hello(), stream: true })
    const it = s2[Symbol.asyncIterator]()
    await it.next()
    s2.close()
    await eventually(() => upstream.state.closed === 2, 3000)
    assert.deepEqual(await it.next(), { value: undefined, done: true })

    // The request's AbortSignal ends an open stream too; the next read throws its reason.
    const controller = new AbortController()
    const s3 = await c.chat.completions.create({ ...hello(), stream: true }, { signal: controller.signal })
    await assert.rejects(
      (async () => {
        for await (const _ of s3) controller.abort()
      })(),
      (e) => e.name === 'AbortError',
    )
    await eventually(() => upstream.state.closed === 3, 3000)
  } finally {
    c.close()
    await upstream.close()
  }
})

test('an AbortSignal cancels a stream being opened', async () => {
  await pair.blue.setFaults({ first_byte_delay_ms: 3000 })
  try {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(client.chat.completions.create({ ...hello(), stream: true }, { signal: controller.signal }), (e) => e.name === 'AbortError')
  } finally {
    await pair.blue.setFaults({})
  }
  await sleep(10)
})
