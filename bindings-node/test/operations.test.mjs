// The scripted scenarios of tests/conformance/operations.json, the same file the Rust and
// Python suites run: operations, the state, events and errors expected after each step.
// The spec speaks snake_case and seconds; this runner calls the camelCase API (milliseconds)
// and compares against camelCased expectations.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client, TurnoutError } from '../lib/index.mjs'
import { REPO, startSim } from './helpers.mjs'

const SPEC = JSON.parse(readFileSync(join(REPO, 'tests', 'conformance', 'operations.json'), 'utf8'))
const RUN_ALL = process.env.TURNOUT_CONFORMANCE_ALL === '1'
const SCENARIOS = SPEC.scenarios.filter((s) => RUN_ALL || !('requires' in s))

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())

/** Object keys camelCased, recursively; values (event types, names) untouched. */
function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelKeys(v)]))
}

/** A plan in the spec's shape (seconds) → Node's (milliseconds). */
function nodePlan(value) {
  if (Array.isArray(value)) return value.map(nodePlan)
  if (value === null || typeof value !== 'object') return value
  const out = {}
  for (const [k, v] of Object.entries(value)) {
    if (['hold', 'interval', 'window', 'step_deadline'].includes(k)) out[`${camel(k)}Ms`] = v * 1000
    else out[camel(k)] = nodePlan(v)
  }
  return out
}

function merge(base, over) {
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(over)) {
    const out = { ...base }
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v)
    return out
  }
  return over
}

function subset(expected, actual) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => subset(e, actual[i]))
  }
  if (expected !== null && typeof expected === 'object') {
    return actual !== null && typeof actual === 'object' && Object.entries(expected).every(([k, v]) => k in actual && subset(v, actual[k]))
  }
  return expected === actual
}

async function send(client, args) {
  const served = {}
  const errors = {}
  let ok = 0
  for (let i = 0; i < args.count; i++) {
    try {
      const resp = await client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `conformance ${i}` }] },
        { routingKey: `user-${i}`, environment: args.environment },
      )
      ok += 1
      served[resp.route.environment] = (served[resp.route.environment] ?? 0) + 1
    } catch (err) {
      if (!(err instanceof TurnoutError)) throw err
      errors[err.code] = (errors[err.code] ?? 0) + 1
    }
  }
  return { ok, served, errors }
}

async function streamText(client, args) {
  const stream = await client.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: args.content }], stream: true },
    { environment: args.environment },
  )
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  return { text, environment: stream.route.environment }
}

async function apply(run, op, args) {
  const c = run.client
  const arg = (key) => (typeof args[key] === 'string' && args[key].startsWith('$') ? run.saved[args[key].slice(1)] : args[key])
  switch (op) {
    case 'status': return c.status()
    case 'switch_to': return c.switchTo(args.environment, { force: Boolean(args.force) })
    case 'set_canary_weight': return c.setCanaryWeight(args.percent, { force: Boolean(args.force) })
    case 'promote': return c.promote({ force: Boolean(args.force) })
    case 'rollback': return c.rollback(args.reason, { force: Boolean(args.force) })
    case 'checkpoint': return c.checkpoint(args.name)
    case 'checkpoints': return c.checkpoints()
    case 'restore_checkpoint': return c.restoreCheckpoint(arg('id'), { force: Boolean(args.force) })
    case 'start_rollout': return c.startRollout(nodePlan(args.plan))
    case 'pause_rollout': return c.pauseRollout()
    case 'resume_rollout': return c.resumeRollout()
    case 'abort_rollout': return c.abortRollout(args.reason)
    case 'rollout': return c.rollout()
    case 'tick': return c.tick()
    case 'close': return c.close()
    case 'history': return c.history()
    case 'on_event':
      run.subscribedAt = c.history().length
      return void c.onEvent((event) => run.received.push(event))
    case 'received': {
      // Callbacks arrive later on the event loop: wait for as many as history gained.
      const expected = c.history().length - run.subscribedAt
      for (let i = 0; i < 500 && run.received.length < expected; i++) await new Promise((r) => setTimeout(r, 10))
      return [...run.received]
    }
    case 'metrics_text': return c.metricsText()
    case 'costs': return c.costs()
    case 'health_check': return c.healthCheck(args.environment)
    case 'faults': return void (await run.sims[args.environment].setFaults(args.faults))
    case 'send': return send(c, args)
    case 'stream': return streamText(c, args)
    case 'embeddings': return c.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' })
    case 'models_list': return c.models.list()
    case 'request': return c.request(args.method, args.path, args.json)
    default: throw new Error(`unknown operation ${op}`)
  }
}

function check(expect, got, error, status, events) {
  const out = []
  const want = camelKeys(expect)
  if (error !== null) {
    if (want.error !== '*' && want.error !== error) out.push(`unexpected error ${error}`)
  } else if (want.error !== undefined) {
    out.push(`expected error ${want.error}, got success`)
  } else {
    if ('result' in want && !subset(want.result, got)) out.push(`result ${JSON.stringify(got)} lacks ${JSON.stringify(want.result)}`)
    if ('contains' in want && !got.some((v) => subset(want.contains, v))) out.push(`no item matches ${JSON.stringify(want.contains)}`)
    if ('containsText' in want && !got.includes(want.containsText)) out.push(`text lacks ${want.containsText}`)
    if ('hasKeys' in want && !want.hasKeys.every((k) => camel(k) in got)) out.push(`${JSON.stringify(got)} lacks one of ${want.hasKeys}`)
    if ('last' in want && !(got.length && subset(want.last, got.at(-1)))) out.push(`last item is not ${JSON.stringify(want.last)}`)
  }
  if ('state' in want && !subset(want.state, status)) out.push(`state ${JSON.stringify(status)} lacks ${JSON.stringify(want.state)}`)
  if ('events' in want && !subset(want.events, events)) out.push(`events ${JSON.stringify(events)} are not ${JSON.stringify(want.events)}`)
  return out
}

async function runScenario(scenario) {
  const [blue, green] = await Promise.all([
    startSim({ name: 'blue', apiKey: 'sk-conformance-blue' }),
    startSim({ name: 'green', apiKey: 'sk-conformance-green' }),
  ])
  const text = JSON.stringify(merge(SPEC.base_config, scenario.config ?? {}))
    .replaceAll('{blue_url}', blue.url)
    .replaceAll('{green_url}', green.url)
  const client = Client.fromConfig(JSON.parse(text))
  const run = { client, sims: { blue, green }, saved: {}, received: [] }
  const failures = []
  try {
    for (const [i, step] of scenario.steps.entries()) {
      if ('requires' in step && !RUN_ALL) break
      const before = client.history().length
      let got = null
      let error = null
      try {
        got = await apply(run, step.op, step.args ?? {})
      } catch (err) {
        if (!(err instanceof TurnoutError)) throw err
        error = err.code
      }
      const events = client.history().slice(before)
      if (step.save_as && error === null) run.saved[step.save_as] = got.id
      const at = `${scenario.name} / step ${i} (${step.op})`
      for (const f of check(step.expect ?? {}, got, error, client.status(), events)) failures.push(`${at}: ${f}`)
    }
  } finally {
    client.close()
    await Promise.all([blue.stop(), green.stop()])
  }
  return failures
}

test('every operations scenario runs as specified', async () => {
  const failures = []
  for (const scenario of SCENARIOS) failures.push(...(await runScenario(scenario)))
  console.log(`operations.json: ran ${SCENARIOS.length} scenarios, skipped ${SPEC.scenarios.length - SCENARIOS.length} awaiting \`requires\``)
  assert.ok(SCENARIOS.length >= 8)
  assert.deepEqual(failures, [])
})
