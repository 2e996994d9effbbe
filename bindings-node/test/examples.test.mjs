// Every example in examples/node/ type-checks and runs against two simulators, so the docs
// cannot rot. examples/node is its own project (`npm install` there first; scripts/test.sh does).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BLUE_KEY, GREEN_KEY, REPO, startPair } from './helpers.mjs'

const run = promisify(execFile)
const EXAMPLES = join(REPO, 'examples', 'node')
const TSC = join(EXAMPLES, 'node_modules', '.bin', 'tsc')

let pair
let env
before(async () => {
  assert.ok(existsSync(join(EXAMPLES, 'node_modules', 'turnout')), 'run `npm ci` in examples/node first')
  pair = await startPair()
  env = { ...process.env, TURNOUT_BLUE_URL: pair.blue.url, TURNOUT_GREEN_URL: pair.green.url, TURNOUT_BLUE_KEY: BLUE_KEY, TURNOUT_GREEN_KEY: GREEN_KEY }
})
after(() => pair.stop())

// One tsc run: the checks of `tsc --noEmit` (with noEmitOnError), and dist/ for the TS ones.
let compiling
const compile = () => (compiling ??= run(TSC, ['-p', 'tsconfig.json', '--noEmitOnError'], { cwd: EXAMPLES }))

test('the examples type-check (TypeScript, and JS with @ts-check) and compile', async () => {
  await compile()
})

async function example(file) {
  if (file.endsWith('.ts')) await compile()
  const script = file.endsWith('.ts') ? join(EXAMPLES, 'dist', file.replace(/\.ts$/, '.js')) : join(EXAMPLES, file)
  const { stdout } = await run(process.execPath, [script], { cwd: EXAMPLES, env, timeout: 60_000 })
  return stdout
}

test('blue_green_deploy.mjs', async () => {
  const out = await example('blue_green_deploy.mjs')
  assert.match(out, /green \(v2\) answered: Echo: hello after the switch/)
  assert.match(out, /blue \(v1\) answered: Echo: hello after the rollback/)
  assert.match(out, /active side now: blue/)
})

test('canary_rollout.mjs', async () => {
  const out = await example('canary_rollout.mjs')
  assert.match(out, /rollout completed; active side now: green/)
  assert.match(out, /rollout rolled_back/)
  assert.match(out, /active side still: green, canary weight 0%/)
})

test('ab_split.ts', async () => {
  const out = await example('ab_split.ts')
  assert.match(out, /the same user always gets the same side: true/)
  assert.match(out, /a premium user gets: B \(green\)/)
  const [, a, b] = out.match(/free users: (\d+) on A \(blue\), (\d+) on B/)
  assert.ok(Number(a) > 60 && Number(b) > 60, out)
})

test('openai_drop_in.ts', async () => {
  const out = await example('openai_drop_in.ts')
  assert.match(out, /chat: Echo: Say hello through the official SDK/)
  assert.match(out, /stream: Echo: stream these words one by one/)
  assert.match(out, /the SDK's own errors still work: 400/)
})
