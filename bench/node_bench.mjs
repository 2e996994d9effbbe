// Node benchmark (not a test): chat completions per second at concurrency 64 through turnout's
// Node package, against openai-node with its default fetch, on the same simulator.
//
//   node bench/node_bench.mjs [SIM_URL]
//
// Without SIM_URL it starts `turnout sim` itself ($TURNOUT_BIN, else target/release/turnout,
// else target/debug/turnout — a debug simulator is the bottleneck: build the release one).
// Knobs: BENCH_SECS (5, per client per round), BENCH_ROUNDS (1), BENCH_CONCURRENCY (64).
// Rounds alternate the clients; each client's best round is reported. The last line is JSON.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Both packages come from bindings-node: the built turnout package and its openai devDependency.
const require = createRequire(join(ROOT, 'bindings-node', 'package.json'))
const { Client } = require('./lib/index.js')
const OpenAI = require('openai').default ?? require('openai')

const SECS = Number(process.env.BENCH_SECS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const WARMUP_SECS = 1

const body = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say something about load generators, briefly.' },
  ],
}

async function startSim() {
  const bin =
    process.env.TURNOUT_BIN ?? ['release', 'debug'].map((p) => join(ROOT, 'target', p, 'turnout')).find((p) => existsSync(p))
  if (!bin) throw new Error('no turnout binary: cargo build --release -p turnout-cli')
  if (bin.includes('/debug/')) console.error('warning: a debug simulator; build the release one for real figures')
  const child = spawn(bin, ['sim', '--port', '0', '--name', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] })
  process.on('exit', () => child.kill())
  const url = await new Promise((ok, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/(http:\/\/\S+\/v1)/)
      if (m) ok(m[1])
    })
    child.on('exit', (code) => fail(new Error(`turnout sim exited with ${code}`)))
  })
  return { url, stop: () => child.kill() }
}

/** Runs `call` from CONCURRENCY loops for `secs`; returns completed requests per second. */
async function measure(call, secs) {
  let ok = 0
  let failed = 0
  let firstError = null
  const end = performance.now() + secs * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        try {
          await call()
          ok++
        } catch (err) {
          failed++
          firstError ??= err
        }
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  if (failed) console.error(`  ${failed} failed requests, first: ${firstError}`)
  return { rps: ok / elapsed, ok, failed }
}

const arg = process.argv[2]
const sim = arg ? { url: arg, stop() {} } : await startSim()

const turnout = new Client({
  blue: { baseUrl: sim.url, apiKey: 'sk-bench-blue' },
  green: { baseUrl: sim.url, apiKey: 'sk-bench-green' },
  canaryWeight: 10,
})
const openai = new OpenAI({ apiKey: 'sk-bench', baseURL: sim.url, maxRetries: 0 })

const clients = {
  turnout: () => turnout.chat.completions.create(body),
  'openai-node': () => openai.chat.completions.create(body),
}

console.log(`node ${process.version}, concurrency ${CONCURRENCY}, ${SECS} s per client per round, ${ROUNDS} round(s), simulator ${sim.url}`)
const best = {}
for (const [name, call] of Object.entries(clients)) await measure(call, WARMUP_SECS)
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, call] of Object.entries(clients)) {
    const r = await measure(call, SECS)
    console.log(`round ${round} ${name.padEnd(12)} ${r.rps.toFixed(0).padStart(7)} req/s (${r.ok} ok, ${r.failed} failed)`)
    if (!best[name] || r.rps > best[name].rps) best[name] = r
  }
}
const ratio = best.turnout.rps / best['openai-node'].rps
console.log(`turnout ${best.turnout.rps.toFixed(0)} req/s vs openai-node ${best['openai-node'].rps.toFixed(0)} req/s: ${ratio.toFixed(2)}x`)
console.log(
  JSON.stringify({
    bench: 'node',
    concurrency: CONCURRENCY,
    secs: SECS,
    rounds: ROUNDS,
    node: process.version,
    turnout_rps: Math.round(best.turnout.rps),
    openai_rps: Math.round(best['openai-node'].rps),
    ratio: Number(ratio.toFixed(2)),
  }),
)
turnout.close()
sim.stop()
