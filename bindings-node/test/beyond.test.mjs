// Key pools, rotateKeys, shadowReport, priorities and the hedge / shadow / balance / LLM-gate
// options through the Node face: conversion only, the behaviour is the core's (core/tests).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Client, ConfigError } from '../lib/index.mjs'
import { BLUE_KEY, hello, pairOptions, sleep, startPair } from './helpers.mjs'

const WRONG_KEY = 'sk-wrong-secret-0000000000000000'
let pair

before(async () => {
  pair = await startPair()
})
after(async () => {
  await pair.stop()
})

test('a key pool takes a refused key out and the request succeeds; rotateKeys swaps them', async () => {
  const client = new Client(
    pairOptions(pair, { blue: { baseUrl: pair.blue.url, apiKey: [WRONG_KEY, BLUE_KEY] } }),
  )
  try {
    const resp = await client.chat.completions.create(hello(), { environment: 'blue' })
    assert.equal(resp.route.environment, 'blue')
    assert.equal(resp.route.attempts, 2)
    let keys = client.status().environments.blue.keys
    assert.deepEqual(keys.map((k) => k.state), ['revoked', 'active'])
    assert.ok(keys.every((k) => !k.fingerprint.includes('wrong-secret')))
    assert.equal(client.history().filter((e) => e.type === 'key_revoked').length, 1)
    client.rotateKeys('blue', [BLUE_KEY])
    keys = client.status().environments.blue.keys
    assert.deepEqual(keys.map((k) => k.state), ['active'])
    assert.throws(() => client.rotateKeys('blue', []), ConfigError)
  } finally {
    client.close()
  }
})

test('shadowReport counts the pairs of sampled requests', async () => {
  const client = new Client(pairOptions(pair, { shadow: { sample: 1, maxConcurrency: 2 } }))
  try {
    // Shadows go out after the caller has its answer: each pair is awaited before the next
    // request, or a third shadow could find both slots taken and be shed (as it should).
    let report = client.shadowReport()
    for (let i = 1; i <= 3; i++) {
      await client.chat.completions.create(hello())
      for (let tries = 0; report.totals.pairs < i; tries++) {
        assert.ok(tries < 500, JSON.stringify(report))
        await sleep(10)
        report = client.shadowReport()
      }
    }
    assert.equal(report.totals.pairs, 3)
    assert.equal(report.shed, 0)
    assert.equal(report.enabled, true)
    assert.equal(report.candidate, 'green')
    assert.equal(report.sampled, 3)
    assert.deepEqual(report.samples, [])
  } finally {
    client.close()
  }
})

test('priority is a request option, checked by the core', async () => {
  const client = new Client(pairOptions(pair, { rateLimit: { maxConcurrency: 1, priorityAgingMs: 2000 } }))
  try {
    await client.chat.completions.create(hello(), { priority: 'high' })
    assert.match(client.metricsText(), /turnout_limiter_wait_seconds_count\{priority="high"\} 1/)
    await assert.rejects(client.chat.completions.create(hello(), { priority: 'urgent' }), ConfigError)
  } finally {
    client.close()
  }
})

test('hedge, shadow, balance and the LLM gates are validated by the core', () => {
  new Client(
    pairOptions(pair, {
      hedge: { after: 'p95', maxExtra: 1 },
      balance: 'cost',
      rollback: { maxCostRatio: 2, minCachedTokenShare: 0.5, shadowMaxToolMismatchRate: 0.1 },
    }),
  ).close()
  new Client(pairOptions(pair, { hedge: { afterMs: 250 } })).close()
  assert.throws(() => new Client(pairOptions(pair, { hedge: { after: 'p99' } })), ConfigError)
  assert.throws(() => new Client(pairOptions(pair, { shadow: { sample: 2 } })), ConfigError)
  assert.throws(() => new Client(pairOptions(pair, { balance: 'fastest' })), ConfigError)
})

test('a rollout may start with a shadow step at weight 0', () => {
  const client = new Client(pairOptions(pair, { shadow: { sample: 1 } }))
  try {
    client.startRollout({
      steps: [{ weight: 0, shadow: true, minRequests: 5 }, { weight: 100 }],
      gates: { shadowMaxToolMismatchRate: 0.1, minRequests: 5 },
      intervalMs: 3_600_000,
    })
    assert.equal(client.status().canaryWeight, 0)
    assert.equal(client.rollout().state, 'running')
    client.abortRollout('test')
  } finally {
    client.close()
  }
  const plain = new Client(pairOptions(pair))
  try {
    assert.throws(
      () => plain.startRollout({ steps: [{ weight: 0, shadow: true }, { weight: 100 }] }),
      ConfigError,
    )
  } finally {
    plain.close()
  }
})
