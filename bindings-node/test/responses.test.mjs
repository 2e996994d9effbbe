// turnout's own `client.responses.create`, whole and streamed, beside chat.completions.create.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { BadRequestError, Client, ConfigError, NotFoundError, Stream } from '../lib/index.mjs'
import { pairOptions, startPair } from './helpers.mjs'

let pair
let client
before(async () => {
  pair = await startPair()
  client = new Client(pairOptions(pair, { canaryWeight: 50, pricing: { 'gpt-4.1': { input: 2, output: 8 } } }))
})
after(async () => {
  client.close()
  await pair.stop()
})

test('responses.create returns the response with its route and cost', async () => {
  const resp = await client.responses.create({ model: 'gpt-4.1', input: 'say hi' })
  assert.equal(resp.object, 'response')
  assert.match(resp.id, /^resp_/)
  assert.ok(['blue', 'green'].includes(resp.route.environment))
  assert.ok(resp.usage.total_tokens > 0)
  assert.ok(resp.route.costUsd > 0, 'the usage was charged')
  // The route is not part of the answer's JSON.
  assert.equal(JSON.parse(JSON.stringify(resp)).route, undefined)
})

test('a follow-up naming previous_response_id goes to the side that holds it, under a 50 % canary', async () => {
  const seen = new Set()
  for (let i = 0; i < 30; i++) {
    const first = await client.responses.create({ model: 'gpt-4.1', input: `turn one ${i}` })
    const next = await client.responses.create({ model: 'gpt-4.1', input: 'turn two', previous_response_id: first.id })
    assert.equal(next.previous_response_id, first.id)
    assert.equal(next.route.environment, first.route.environment, `follow-up ${i} changed sides`)
    assert.equal(next.route.reason, 'affinity')
    seen.add(first.route.environment)
  }
  assert.equal(seen.size, 2, 'the canary sent first turns to both sides')
})

test('responses.create with stream: true yields the Responses events; a follow-up stays on its side', async () => {
  for (let i = 0; i < 20; i++) {
    const stream = await client.responses.create({ model: 'gpt-4.1', input: `streamed turn ${i}`, stream: true })
    assert.ok(stream instanceof Stream)
    const types = []
    let text = ''
    let completed = null
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'response.output_text.delta') text += event.delta
      if (event.type === 'response.completed') completed = event.response
    }
    assert.equal(types[0], 'response.created')
    assert.equal(types.at(-1), 'response.completed')
    assert.match(text, new RegExp(`streamed turn ${i}`))
    assert.ok(completed.usage.total_tokens > 0)
    const next = await client.responses.create({ model: 'gpt-4.1', input: 'more', previous_response_id: completed.id })
    assert.equal(next.route.environment, stream.route.environment, `follow-up ${i} changed sides`)
  }
})

test('responses.create errors are the exported classes', async () => {
  await assert.rejects(client.responses.create('hi'), ConfigError)
  await assert.rejects(client.responses.create({ input: 'no model' }), BadRequestError)
  // An id neither side made: routed as usual, and the side's 404 comes back.
  await assert.rejects(
    client.responses.create({ model: 'gpt-4.1', input: 'x', previous_response_id: 'resp_0000000000000000000000ff' }),
    NotFoundError,
  )
})
