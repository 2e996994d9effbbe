// The Client surface: construction, requests, routing options and every operation.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { Client, ConfigError, TurnoutError } from '../lib/index.mjs'
import { BLUE_KEY, GREEN_KEY, eventually, hello, pairOptions, sleep, startPair } from './helpers.mjs'

let pair
before(async () => {
  pair = await startPair()
})
after(() => pair.stop())

describe('construction', () => {
  test('camelCase options with milliseconds', () => {
    const client = new Client(
      pairOptions(pair, {
        active: 'green',
        canaryWeight: 12.5,
        sticky: true,
        rules: [{ match: { tier: 'premium' }, environment: 'blue' }],
        retry: { maxAttempts: 4, initialBackoffMs: 200, maxBackoffMs: 8000, multiplier: 2, jitter: 'full' },
        modelFallbacks: { 'gpt-4.1': ['gpt-4o', 'gpt-4o-mini'] },
        circuitBreaker: { failureThreshold: 5, cooldownMs: 30_000 },
        rollback: { maxErrorRate: 0.05, maxP99LatencyMs: 2000, windowMs: 60_000, minRequests: 20 },
        timeoutMs: 30_000,
      }),
    )
    const s = client.status()
    assert.equal(s.active, 'green')
    assert.equal(s.canaryWeight, 12.5)
    assert.equal(s.environments.blue.label, 'v1')
    assert.equal(s.environments.green.baseUrl, pair.green.url)
    client.close()
  })

  test('invalid values are ConfigErrors naming the field', () => {
    assert.throws(() => new Client(pairOptions(pair, { canaryWeight: 150 })), (e) => {
      assert.ok(e instanceof ConfigError)
      assert.ok(e instanceof TurnoutError)
      assert.equal(e.code, 'config')
      assert.match(e.message, /canary_weight must be within 0\.\.=100, got 150/)
      return true
    })
    assert.throws(() => new Client(pairOptions(pair, { canaryWeigth: 5 })), /did you mean "canaryWeight"/)
    assert.throws(() => new Client(pairOptions(pair, { retry: { initialBackoffMs: 'x' } })), ConfigError)
    assert.throws(() => new Client({ blue: { baseUrl: 'ftp://x' }, green: { baseUrl: 'http://y' } }), /http or https/)
    assert.throws(() => new Client({ blue: { baseUrl: 'http://x/v1' } }), ConfigError)
    assert.throws(() => new Client(null), ConfigError)
  })

  test('no key in error messages or util.inspect', () => {
    const client = new Client(pairOptions(pair))
    const shown = inspect(client, { depth: 10, showHidden: true })
    assert.ok(!shown.includes(BLUE_KEY) && !shown.includes(GREEN_KEY), shown)
    assert.ok(!shown.includes('secret-0123'), shown)
    assert.match(shown, /canaryWeight/)
    assert.ok(!JSON.stringify(client.status()).includes('secret'))
    assert.throws(
      () => new Client({ blue: { baseUrl: 'nope', apiKey: BLUE_KEY }, green: { baseUrl: pair.green.url, apiKey: GREEN_KEY } }),
      (e) => !e.message.includes(BLUE_KEY) && !inspect(e).includes(BLUE_KEY),
    )
    client.close()
  })

  test('Client.fromConfig reads a file and a config object', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'turnout-node-'))
    const file = join(dir, 'turnout.yaml')
    process.env.TURNOUT_TEST_GREEN_KEY = GREEN_KEY
    writeFileSync(
      file,
      `environments:\n  blue: {base_url: "${pair.blue.url}", api_key: "${BLUE_KEY}"}\n` +
        `  green: {base_url: "${pair.green.url}", api_key: "\${TURNOUT_TEST_GREEN_KEY}"}\n` +
        `active: green\nhealth_check: {enabled: false}\ntimeout: 5\n`,
    )
    const fromFile = Client.fromConfig(file)
    const resp = await fromFile.chat.completions.create(hello())
    assert.equal(resp.route.environment, 'green')
    fromFile.close()

    const fromValue = Client.fromConfig({
      environments: { blue: { base_url: pair.blue.url, api_key: BLUE_KEY }, green: { base_url: pair.green.url, api_key: GREEN_KEY } },
      canary_weight: 5,
      health_check: { enabled: false },
    })
    assert.equal(fromValue.status().canaryWeight, 5)
    fromValue.close()
    assert.throws(() => Client.fromConfig(join(dir, 'missing.yaml')), ConfigError)
    assert.throws(() => Client.fromConfig({ environments: {}, canary_weight: 5 }), ConfigError)
  })
})

describe('requests', () => {
  let client
  before(() => {
    client = new Client(pairOptions(pair))
  })
  after(() => client.close())

  test('chat.completions.create answers a plain object plus route', async () => {
    const resp = await client.chat.completions.create(hello('route me please'))
    assert.equal(resp.object, 'chat.completion')
    assert.match(resp.choices[0].message.content, /route me please/)
    assert.ok(resp.usage.total_tokens > 0)
    assert.equal(resp.route.environment, 'blue')
    assert.equal(resp.route.label, 'v1')
    assert.equal(resp.route.model, 'gpt-4o-mini')
    assert.equal(resp.route.attempts, 1)
    assert.equal(resp.route.fallbackFrom, null)
    assert.equal(typeof resp.route.latencyMs, 'number')
    // The route is not part of the upstream's body.
    assert.ok(!('route' in JSON.parse(JSON.stringify(resp))))
  })

  test('every OpenAI parameter passes through', async () => {
    const resp = await client.chat.completions.create({
      ...hello('one two three four five six seven eight'),
      max_tokens: 2,
      temperature: 0.1,
      some_future_parameter: { nested: [1, 2, 3] },
    })
    assert.equal(resp.choices[0].finish_reason, 'length')
  })

  test('routing options: environment pin, routing key, metadata rules, timeout', async () => {
    const pinned = await client.chat.completions.create(hello(), { environment: 'green' })
    assert.equal(pinned.route.environment, 'green')

    const ruled = new Client(pairOptions(pair, { rules: [{ match: { tier: 'premium' }, environment: 'green' }] }))
    const premium = await ruled.chat.completions.create(hello(), { metadata: { tier: 'premium' } })
    assert.equal(premium.route.environment, 'green')
    const free = await ruled.chat.completions.create(hello(), { metadata: { tier: 'free' } })
    assert.equal(free.route.environment, 'blue')
    ruled.close()

    const canary = new Client(pairOptions(pair, { canaryWeight: 50 }))
    for (const key of ['user-1', 'user-2', 'user-3', 'user-4']) {
      const first = await canary.chat.completions.create(hello(), { routingKey: key })
      for (let i = 0; i < 3; i++) {
        const again = await canary.chat.completions.create(hello(), { routingKey: key })
        assert.equal(again.route.environment, first.route.environment, `sticky for ${key}`)
      }
    }
    canary.close()

    await assert.rejects(client.chat.completions.create(hello(), { environment: 'purple' }), ConfigError)
  })

  test('embeddings.create, models.list, models.retrieve', async () => {
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] })
    assert.equal(emb.object, 'list')
    assert.equal(emb.data.length, 2)
    assert.equal(emb.data[0].embedding.length, 8)
    assert.equal(emb.route.environment, 'blue')

    const models = await client.models.list()
    assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'))
    assert.equal(models.route.environment, 'blue')

    const model = await client.models.retrieve('gpt-4o')
    assert.equal(model.id, 'gpt-4o')
  })

  test('request(method, path, body) reaches any endpoint, routed', async () => {
    const resp = await client.request('POST', '/chat/completions', hello('generic'), { environment: 'green' })
    assert.match(resp.choices[0].message.content, /generic/)
    assert.equal(resp.route.environment, 'green')
    const models = await client.request('get', 'models')
    assert.equal(models.object, 'list')
    await assert.rejects(client.request('GET', '/no-such-endpoint'), (e) => e.status === 404)
    await assert.rejects(client.request('BAD METHOD', '/models'), ConfigError)
  })

  test('an AbortSignal cancels a request', async () => {
    await pair.blue.setFaults({ latency_ms: 2000 })
    try {
      const controller = new AbortController()
      const before = (await pair.blue.stats()).total
      const pending = client.chat.completions.create(hello(), { signal: controller.signal })
      setTimeout(() => controller.abort(), 50)
      await assert.rejects(pending, (e) => e.name === 'AbortError')
      // Rejected before blue answered: the simulator counts a request once it has answered it.
      assert.equal((await pair.blue.stats()).total, before, 'the abort did not wait for the answer')
      await assert.rejects(client.models.list({ signal: AbortSignal.abort() }), (e) => e.name === 'AbortError')
    } finally {
      await pair.blue.setFaults({})
    }
  })
})

describe('operations', () => {
  test('switchTo, setCanaryWeight, promote, rollback change the traffic state', async () => {
    const client = new Client(pairOptions(pair))
    const s0 = client.status()
    assert.equal(s0.active, 'blue')
    assert.equal(s0.canaryWeight, 0)
    assert.equal(typeof s0.version, 'number')
    assert.equal(s0.environments.blue.healthy, true)
    assert.ok('circuit' in s0.environments.green && 'window' in s0.environments.green)

    let state = client.switchTo('green')
    assert.equal(state.active, 'green')
    assert.equal(state.canaryWeight, 0)
    assert.equal((await client.chat.completions.create(hello())).route.environment, 'green')

    state = client.setCanaryWeight(100)
    assert.equal(state.canaryWeight, 100)
    assert.equal(state.weightBp, 10_000)
    assert.equal((await client.chat.completions.create(hello())).route.environment, 'blue')
    assert.throws(() => client.setCanaryWeight(101), ConfigError)
    assert.throws(() => client.switchTo('purple'), ConfigError)

    state = client.setCanaryWeight(25)
    state = client.promote()
    assert.equal(state.active, 'blue')
    assert.equal(state.canaryWeight, 0)

    client.setCanaryWeight(10)
    state = client.rollback('too many errors')
    assert.equal(state.active, 'blue')
    assert.equal(state.canaryWeight, 0)
    // The last change was a rollback: a second one changes nothing (SEMANTICS.md, *Checkpoints
    // and history*), so an on-call repeating it never puts a failed release live.
    state = client.rollback()
    assert.equal(state.active, 'blue')
    assert.equal(state.canaryWeight, 0)

    const history = client.history()
    const types = history.map((e) => e.type)
    assert.deepEqual(types.slice(0, 6), ['switch', 'weight_changed', 'weight_changed', 'promote', 'weight_changed', 'rollback'])
    assert.ok(types.slice(6).every((t) => t === 'rollback'), types.join())
    const rollback = history[5]
    assert.equal(rollback.reason, 'too many errors')
    assert.match(rollback.at, /^\d{4}-\d\d-\d\dT/)
    assert.equal(rollback.fromWeight ?? rollback.from_weight, 10)
    assert.equal(history.at(-1).reason, 'manual')
    client.close()
  })

  test('healthCheck probes a side', async () => {
    const client = new Client(pairOptions(pair))
    const ok = await client.healthCheck('green')
    assert.equal(ok.environment, 'green')
    assert.equal(ok.healthy, true)
    assert.equal(typeof ok.latencyMs, 'number')
    await pair.green.setFaults({ error_rate: 1, error_status: 503 })
    try {
      const bad = await client.healthCheck('green')
      assert.equal(bad.healthy, false)
      assert.match(bad.error, /503/)
    } finally {
      await pair.green.setFaults({})
    }
    await assert.rejects(client.healthCheck('purple'), ConfigError)
    client.close()
  })

  test('onEvent delivers events; a throwing callback breaks nothing', async () => {
    const client = new Client(pairOptions(pair))
    const seen = []
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    const unsubscribe = client.onEvent((event) => seen.push(event))
    const unsubscribeBad = client.onEvent(() => {
      throw new Error('callback bug')
    })
    client.switchTo('green')
    client.setCanaryWeight(30)
    await eventually(() => seen.length === 2)
    assert.equal(seen[0].type, 'switch')
    assert.equal(seen[1].type, 'weight_changed')
    assert.equal(seen[1].canaryWeight, 30)
    await eventually(() => warnings.some((w) => /callback bug/.test(w.message)))
    // The engine still works.
    const resp = await client.chat.completions.create(hello(), { routingKey: 'k' })
    assert.ok(resp.route.environment)
    unsubscribe()
    unsubscribeBad()
    client.promote()
    await sleep(50)
    assert.equal(seen.length, 2)
    process.off('warning', onWarning)
    client.close()
  })

  test('close: later requests fail with code "closed"', async () => {
    const client = new Client(pairOptions(pair))
    client.close()
    await assert.rejects(client.chat.completions.create(hello()), (e) => e instanceof TurnoutError && e.code === 'closed')
    const disposed = new Client(pairOptions(pair))
    disposed[Symbol.dispose]()
    await assert.rejects(disposed.models.list(), (e) => e.code === 'closed')
  })
})

describe('rollouts, checkpoints, metrics, costs', () => {
  test('startRollout, pauseRollout, resumeRollout, abortRollout', () => {
    const client = new Client(pairOptions(pair))
    assert.equal(client.rollout(), null)
    let r = client.startRollout({ steps: [{ weight: 10, holdMs: 60_000, minRequests: 5 }, { weight: 100 }], gates: { maxErrorRate: 0.2 }, intervalMs: 1000 })
    assert.equal(r.state, 'running')
    assert.equal(r.candidate, 'green')
    assert.equal(r.step, 0)
    assert.equal(r.steps, 2)
    assert.equal(client.status().canaryWeight, 10)
    assert.equal(client.status().rollout.state, 'running')
    assert.throws(() => client.startRollout({ steps: [{ weight: 100 }] }), ConfigError)
    r = client.pauseRollout()
    assert.equal(r.state, 'paused')
    r = client.resumeRollout()
    assert.equal(r.state, 'running')
    r = client.abortRollout('changed my mind')
    assert.equal(r.state, 'aborted')
    assert.equal(client.status().canaryWeight, 0)
    assert.throws(() => client.pauseRollout(), TurnoutError)
    const types = client.history().map((e) => e.type)
    for (const t of ['rollout_started', 'rollout_paused', 'rollout_resumed', 'rollout_aborted']) assert.ok(types.includes(t), `${t} in ${types}`)
    assert.throws(() => client.startRollout({ steps: [{ weight: 50, hold: 3 }] }), /did you mean "holdMs"|unknown option "hold"/)
    assert.throws(() => client.startRollout({ steps: [{ weight: 50 }, { weight: 20 }] }), ConfigError)
    client.close()
  })

  test('a rollout whose gates pass completes and promotes', async () => {
    const client = new Client(pairOptions(pair))
    const seen = []
    client.onEvent((e) => seen.push(e.type))
    client.startRollout({ steps: [{ weight: 50, minRequests: 2 }, { weight: 100, minRequests: 2 }], gates: { maxErrorRate: 0.5, minRequests: 2 }, intervalMs: 50 })
    let i = 0
    await eventually(async () => {
      await Promise.all(Array.from({ length: 10 }, () => client.chat.completions.create(hello(), { routingKey: `u-${i++}` })))
      return client.rollout().state === 'completed'
    }, 10_000)
    assert.equal(client.status().active, 'green')
    await eventually(() => seen.includes('rollout_completed'))
    assert.ok(seen.includes('rollout_step'))
    client.close()
  })

  test('checkpoint, checkpoints, restoreCheckpoint', () => {
    const client = new Client(pairOptions(pair))
    const cp = client.checkpoint('pre-v2')
    assert.equal(cp.name, 'pre-v2')
    assert.match(cp.id, /\S/)
    assert.match(cp.hash, /^[0-9a-f]{64}$/)
    assert.match(cp.createdAt, /^\d{4}-/)
    assert.ok(cp.content.traffic, 'content in the config-file shape')
    client.setCanaryWeight(40)
    assert.ok(client.checkpoints().some((c) => c.id === cp.id))
    const state = client.restoreCheckpoint(cp.id)
    assert.equal(state.canaryWeight, 0)
    assert.equal(client.status().canaryWeight, 0)
    assert.throws(() => client.restoreCheckpoint('cp-does-not-exist'), TurnoutError)
    const types = client.history().map((e) => e.type)
    assert.ok(types.includes('checkpoint_created') && types.includes('checkpoint_restored'), types.join())
    client.close()
  })

  test('metricsText and costs', async () => {
    const client = new Client(pairOptions(pair))
    await client.chat.completions.create({ ...hello('count my tokens'), model: 'gpt-4o' }, { metadata: { team: 'search' } })
    const text = client.metricsText()
    assert.match(text, /^# (TYPE|HELP) turnout_/m)
    assert.match(text, /environment="blue"/)
    const costs = client.costs()
    assert.equal(costs.tag, 'team')
    assert.equal(costs.total.requests, 1)
    assert.ok(costs.total.promptTokens > 0 && costs.total.completionTokens > 0)
    assert.ok(costs.byEnvironment.blue.requests === 1)
    assert.ok(costs.byModel['gpt-4o'].costUsd > 0)
    assert.equal(costs.byTag.search.requests, 1)
    assert.equal(client.metricsAddress(), null)
    client.close()
  })

  test('the built-in metrics listener (metrics.listen) and metricsContentType', async () => {
    const client = new Client(pairOptions(pair, { metrics: { listen: '127.0.0.1:0' } }))
    const addr = client.metricsAddress()
    assert.match(addr, /^127\.0\.0\.1:\d+$/)
    const res = await fetch(`http://${addr}/metrics`)
    assert.equal(res.status, 200)
    assert.match(await res.text(), /turnout_canary_weight/)
    assert.match(Client.metricsContentType, /openmetrics-text/)
    client.close()
  })
})
