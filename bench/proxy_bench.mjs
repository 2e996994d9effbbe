// The proxy hop, Node side: openai-node through turnout in-process (`client.fetch`) against
// openai-node through a proxy process (Portkey's gateway, LiteLLM's proxy), all on the same
// `turnout sim` upstream. Run by bench/run.sh (step `proxy`), which starts the proxies.
//
//   node bench/proxy_bench.mjs SIM_URL [--portkey URL] [--litellm URL] [--out FILE]
//   (LiteLLM's master key in $BENCH_LITELLM_KEY)
//
// Knobs: BENCH_ROUNDS (3), BENCH_SECS (3, per route, per mode, per round), BENCH_CONCURRENCY (16).
// The routes are configured as in bench/proxy_bench.py (two deployments on the upstream, half
// the calls each, retries on); `direct` is openai-node straight to the upstream, the floor.
// Per round each route (order rotating) runs sequentially (one caller) and concurrently
// (BENCH_CONCURRENCY callers); every call is timed. One JSON line per (round, route, mode).
import { appendFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Both packages come from bindings-node: the built turnout package and its openai devDependency.
const require = createRequire(join(ROOT, 'bindings-node', 'package.json'))
const { Client } = require('./lib/index.js')
const OpenAI = require('openai').default ?? require('openai')
const { VERSION: OPENAI_VERSION } = require('openai/version')

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { portkey: { type: 'string' }, litellm: { type: 'string' }, out: { type: 'string' } },
})
const upstream = positionals[0]?.replace(/\/$/, '')
if (!upstream) throw new Error('usage: node bench/proxy_bench.mjs SIM_URL [--portkey URL] [--litellm URL]')
const SECS = Number(process.env.BENCH_SECS ?? 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const KEY = 'sk-bench-0000000000000000'
const body = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say something about proxies, briefly.' },
  ],
}

function emit(row) {
  const line = JSON.stringify(row)
  console.log(line)
  if (opts.out) appendFileSync(opts.out, line + '\n')
}

/** The q-quantile (nearest rank) of sorted milliseconds, in microseconds. */
function percentile(sorted, q) {
  if (!sorted.length) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * sorted.length) - 1))
  return sorted[i] * 1000
}

/** `workers` loops calling `call` for `secs`; every call timed. */
async function measure(call, secs, workers) {
  const lat = []
  let failed = 0
  const started = performance.now()
  const end = started + secs * 1000
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        try {
          await call()
        } catch {
          failed++
          continue
        }
        lat.push(performance.now() - t0)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  lat.sort((a, b) => a - b)
  return {
    calls_per_s: lat.length / elapsed,
    p50_us: percentile(lat, 0.5),
    p99_us: percentile(lat, 0.99),
    n: lat.length,
    failed,
  }
}

function portkeyConfig() {
  const target = { provider: 'openai', custom_host: upstream, api_key: KEY, weight: 0.5 }
  return JSON.stringify({ strategy: { mode: 'loadbalance' }, retry: { attempts: 2 }, targets: [target, { ...target }] })
}

const turnout = new Client({
  blue: { baseUrl: upstream, apiKey: KEY },
  green: { baseUrl: upstream, apiKey: KEY },
  canaryWeight: 50,
  retry: { maxAttempts: 3 },
})
const routes = [
  ['turnout', new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: turnout.fetch })],
  ['direct', new OpenAI({ apiKey: KEY, baseURL: upstream })],
]
if (opts.portkey) {
  routes.push([
    'portkey',
    new OpenAI({ apiKey: KEY, baseURL: opts.portkey, defaultHeaders: { 'x-portkey-config': portkeyConfig() } }),
  ])
}
// LiteLLM's master key: it refuses to start without one, run.sh makes one up.
const litellmKey = process.env.BENCH_LITELLM_KEY ?? KEY
if (opts.litellm) routes.push(['litellm', new OpenAI({ apiKey: litellmKey, baseURL: opts.litellm })])

const live = []
for (const [name, client] of routes) {
  const call = () => client.chat.completions.create(body)
  try {
    await call()
  } catch (err) {
    emit({ figure: 'proxy', lang: 'node', via: name, error: String(err).slice(0, 300) })
    continue
  }
  await measure(call, Math.min(1, SECS / 3), CONCURRENCY) // warm-up: connections, JIT
  live.push([name, call])
}
console.error(
  `node ${process.version}, openai-node ${OPENAI_VERSION}; routes ${live.map(([n]) => n).join(', ')}; ` +
    `${ROUNDS} round(s), ${SECS} s per route and mode, concurrency ${CONCURRENCY}`,
)
for (let round = 0; round < ROUNDS; round++) {
  const k = live.length ? round % live.length : 0
  for (const [name, call] of [...live.slice(k), ...live.slice(0, k)]) {
    for (const [mode, workers] of [
      ['sequential', 1],
      ['concurrent', CONCURRENCY],
    ]) {
      const r = await measure(call, SECS, workers)
      emit({
        figure: 'proxy',
        lang: 'node',
        client: `openai-node ${OPENAI_VERSION}`,
        round,
        via: name,
        mode,
        concurrency: workers,
        ...r,
      })
    }
  }
}
turnout.close()
