// Hardening of the Node face: a panic inside turnout is a TurnoutError (never an aborted
// process or a pending promise), onEvent subscriptions outlive the caller's handles until
// unsubscribe()/close(), and TURNOUT_LOG=debug writes turnout's logs to stderr.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Client, ClientClosedError, TurnoutError } from '../lib/index.mjs'
import { PACKAGE_DIR, eventually, hello, pairOptions, startPair } from './helpers.mjs'

const require = createRequire(import.meta.url)
const native = require('../native/index.js')
const { fromNative } = require('../lib/errors.js')

/** `global.gc`, also when node was started without --expose-gc. */
function collector() {
  if (typeof global.gc === 'function') return global.gc
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc')
}

describe('hardening', () => {
  let pair
  before(async () => {
    pair = await startPair()
  })
  after(() => pair.stop())

  test('a panic in a synchronous call throws a TurnoutError and the process lives on', () => {
    for (let i = 0; i < 2; i++) {
      let caught
      try {
        native._testPanic()
      } catch (err) {
        caught = fromNative(err)
      }
      assert.ok(caught instanceof TurnoutError, String(caught))
      assert.equal(caught.code, 'panic')
      assert.match(caught.message, /internal error in turnout.*injected panic/)
    }
  })

  test('a panic in an async call rejects its promise with a TurnoutError', async () => {
    await assert.rejects(
      native._testPanicAsync().catch((err) => {
        throw fromNative(err)
      }),
      (e) => e instanceof TurnoutError && e.code === 'panic' && /injected panic/.test(e.message),
    )
    // The runtime still serves requests.
    const client = new Client(pairOptions(pair))
    const resp = await client.chat.completions.create(hello(), { routingKey: 'k' })
    assert.ok(resp.route.environment)
    client.close()
  })

  test('onEvent stays subscribed when the caller drops the returned function', async () => {
    const gc = collector()
    const client = new Client(pairOptions(pair))
    const seen = []
    let collected = false
    const registry = new FinalizationRegistry(() => {
      collected = true
    })
    ;(() => {
      // Drops every handle on the subscription: only the client keeps it.
      registry.register(client.onEvent((e) => seen.push(e.type)), 'off')
    })()
    await eventually(async () => {
      gc()
      await new Promise((r) => setImmediate(r))
      return collected
    })
    for (let i = 0; i < 3; i++) {
      gc()
      await new Promise((r) => setImmediate(r))
    }
    client.switchTo('green')
    await eventually(() => seen.includes('switch'))

    // close() ends it: a change made after it reaches no callback.
    client.close()
    const before = seen.length
    assert.throws(() => client.switchTo('blue'), ClientClosedError)
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    assert.equal(seen.length, before)
  })

  test('off() ends a subscription the client was keeping', async () => {
    const client = new Client(pairOptions(pair))
    const seen = []
    const off = client.onEvent((e) => seen.push(e.type))
    const witness = []
    client.onEvent((e) => witness.push(e.type))
    off()
    client.switchTo('green')
    await eventually(() => witness.includes('switch'))
    assert.deepEqual(seen, [])
    client.close()
  })

  test('TURNOUT_LOG=debug writes turnout records to stderr', async () => {
    await pair.blue.setFaults({ error_rate: 1.0, error_status: 500 })
    try {
      const script = `
        const { Client } = require(${JSON.stringify(PACKAGE_DIR)} + '/lib/index.js')
        const options = JSON.parse(process.env.OPTIONS)
        const client = new Client(options)
        client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
          .then((r) => { console.log('served by', r.route.environment); client.close() })
      `
      const options = pairOptions(pair)
      const run = (env) =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script], {
            env: { ...process.env, TURNOUT_LOG: '', DEBUG: '', OPTIONS: JSON.stringify(options), ...env },
          })
          let stdout = ''
          let stderr = ''
          child.stdout.on('data', (d) => (stdout += d))
          child.stderr.on('data', (d) => (stderr += d))
          child.on('error', reject)
          child.on('exit', (code) => resolve({ code, stdout, stderr }))
        })
      const on = await run({ TURNOUT_LOG: 'debug' })
      assert.equal(on.code, 0, on.stderr)
      assert.match(on.stdout, /served by green/)
      assert.match(on.stderr, /^turnout INFO turnout::events: event kind="?failover/m)
      const viaDebug = await run({ DEBUG: 'express,turnout' })
      assert.match(viaDebug.stderr, /turnout INFO turnout::events/)
      const off = await run({})
      assert.equal(off.code, 0, off.stderr)
      assert.doesNotMatch(off.stderr, /turnout::/)
    } finally {
      await pair.blue.setFaults({})
    }
  })
})
