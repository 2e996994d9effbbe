// One API in three languages (issue 18): the names, shapes and errors Python has too.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { Client, ClientClosedError, Page, StreamInterruptedError, TurnoutError } from '../lib/index.mjs'
import { hello, pairOptions, startPair } from './helpers.mjs'

let pair
before(async () => {
  pair = await startPair()
})
after(async () => {
  await pair.stop()
})

test('a closed client refuses operations with ClientClosedError', () => {
  const client = new Client(pairOptions(pair))
  const checkpoint = client.checkpoint('before')
  client.close()
  const operations = [
    () => client.switchTo('green'),
    () => client.setCanaryWeight(25),
    () => client.promote(),
    () => client.rollback('late'),
    () => client.checkpoint('after'),
    () => client.restoreCheckpoint(checkpoint.id),
    () => client.pauseRollout(),
  ]
  for (const operation of operations) {
    assert.throws(operation, (err) => err instanceof ClientClosedError && err instanceof TurnoutError && err.code === 'closed')
  }
  assert.equal(client.status().active, 'blue')
})

test('state objects carry canaryWeight in percent beside weightBp', () => {
  const client = new Client(pairOptions(pair))
  try {
    const weighted = client.setCanaryWeight(12.5)
    assert.equal(weighted.canaryWeight, 12.5)
    assert.equal(weighted.weightBp, 1250)
    assert.equal(client.promote().canaryWeight, 0)
  } finally {
    client.close()
  }
})

test('metricsAddress() is the name; metricsAddr() stays as its alias', () => {
  const client = new Client(pairOptions(pair))
  try {
    assert.equal(client.metricsAddress(), null)
    assert.equal(client.metricsAddr(), client.metricsAddress())
    assert.equal(typeof client.tick, 'function')
    client.tick()
  } finally {
    client.close()
  }
})

test('models.list() is a page: items by iteration, for await on the call, printed as a Page', async () => {
  const client = new Client(pairOptions(pair))
  try {
    const page = await client.models.list()
    assert.ok(page instanceof Page)
    assert.equal(page.object, 'list')
    assert.equal(page.route.environment, 'blue')
    assert.deepEqual([...page].map((m) => m.id), page.data.map((m) => m.id))
    assert.ok(page.data.length > 0)
    const ids = []
    for await (const model of client.models.list()) ids.push(model.id)
    assert.deepEqual(ids, page.data.map((m) => m.id))
    assert.match(inspect(page, { breakLength: Infinity }), /^Page \{ object: 'list', data: \[/)
    assert.equal(page.hasNextPage(), false)
  } finally {
    client.close()
  }
})

test('a stream cut mid-body says the connection had succeeded', async () => {
  await pair.blue.setFaults({ truncate_after: 2 })
  const client = new Client(pairOptions(pair))
  try {
    const stream = await client.chat.completions.create({ ...hello('one two three four five six'), stream: true }, { environment: 'blue' })
    await assert.rejects(
      async () => {
        for await (const _ of stream);
      },
      (err) => err instanceof StreamInterruptedError && !/cannot connect/.test(err.message) && /after it had succeeded/.test(err.message),
    )
  } finally {
    client.close()
    await pair.blue.setFaults({})
  }
})
