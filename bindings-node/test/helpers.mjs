// Shared test helpers: simulators (`turnout sim`) on free loopback ports, and small utilities.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const REPO = resolve(PACKAGE_DIR, '..')

/** The `turnout` binary: $TURNOUT_BIN, else the workspace's debug build, else its release build. */
export function turnoutBin() {
  if (process.env.TURNOUT_BIN) return process.env.TURNOUT_BIN
  for (const profile of ['debug', 'release']) {
    const bin = join(REPO, 'target', profile, 'turnout')
    if (existsSync(bin)) return bin
  }
  throw new Error('no turnout binary: run `cargo build -p turnout-cli` or set TURNOUT_BIN')
}

const running = new Set()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `turnout sim --port 0` and waits for its URL.
 * @returns {Promise<{url: string, origin: string, name: string, setFaults: Function, stats: Function, reset: Function, stop: Function}>}
 */
export async function startSim({ name = 'sim', apiKey, errorRate, latencyMs, args = [] } = {}) {
  const argv = ['sim', '--port', '0', '--name', name, ...args]
  if (apiKey) argv.push('--api-key', apiKey)
  if (errorRate != null) argv.push('--error-rate', String(errorRate))
  if (latencyMs != null) argv.push('--latency-ms', String(latencyMs))
  const child = spawn(turnoutBin(), argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  running.add(child)
  child.on('exit', () => running.delete(child))
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('turnout sim did not start within 20 s')), 20_000)
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const m = line.match(/(http:\/\/\S+\/v1)/)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`turnout sim exited with ${code}`))
    })
  })
  const origin = url.slice(0, -'/v1'.length)
  const control = async (method, path, body) => {
    const res = await fetch(origin + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    })
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`)
    return res.json()
  }
  return {
    url,
    origin,
    name,
    /** Replaces the faults (`PUT /_sim/faults`). */
    setFaults: (faults) => control('PUT', '/_sim/faults', faults),
    /** The counters (`GET /_sim/stats`). */
    stats: () => control('GET', '/_sim/stats'),
    /** The last requests it received, oldest first (`GET /_sim/requests`). */
    requests: () => control('GET', '/_sim/requests'),
    /** Zeroes the counters and clears the request log. */
    reset: () => control('POST', '/_sim/reset'),
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done()
        child.once('exit', () => done())
        child.kill('SIGTERM')
      }),
  }
}

/** Two simulators named blue and green, with the keys `sk-blue-...` and `sk-green-...`. */
export async function startPair(options = {}) {
  const [blue, green] = await Promise.all([
    startSim({ name: 'blue', apiKey: BLUE_KEY, ...options }),
    startSim({ name: 'green', apiKey: GREEN_KEY, ...options }),
  ])
  return { blue, green, stop: () => Promise.all([blue.stop(), green.stop()]) }
}

export const BLUE_KEY = 'sk-blue-secret-0123456789abcdef'
export const GREEN_KEY = 'sk-green-secret-0123456789abcdef'

/** Client options for a pair, fast to fail and without background probes. */
export function pairOptions(pair, extra = {}) {
  return {
    blue: { baseUrl: pair.blue.url, apiKey: BLUE_KEY, label: 'v1' },
    green: { baseUrl: pair.green.url, apiKey: GREEN_KEY, label: 'v2' },
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    healthCheck: { enabled: false },
    timeoutMs: 10_000,
    ...extra,
  }
}

export const hello = (content = 'hello there') => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
})

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Resolves when `predicate()` holds, polling; fails after `ms`. */
export async function eventually(predicate, ms = 5000) {
  const end = Date.now() + ms
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(20)
  }
}
