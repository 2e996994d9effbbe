// The error classes of the fleet work (issue 11): each native kind maps to its own class,
// never to ConfigError.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const errors = require('../lib/errors.js')

const native = (kind, message) => new Error(`turnout:${JSON.stringify({ kind, message })}`)

test('store, no_rollout, unknown_checkpoint and refused have their own classes', () => {
  for (const [kind, Cls] of [
    ['store', errors.StoreError],
    ['no_rollout', errors.NoRolloutError],
    ['unknown_checkpoint', errors.UnknownCheckpointError],
    ['refused', errors.RefusedError],
  ]) {
    const e = errors.fromNative(native(kind, `a ${kind} error`))
    assert.ok(e instanceof Cls, kind)
    assert.ok(e instanceof errors.TurnoutError, kind)
    assert.ok(!(e instanceof errors.ConfigError), kind)
    assert.equal(e.code, kind)
    assert.equal(e.message, `a ${kind} error`)
  }
})
