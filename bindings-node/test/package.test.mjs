// `npm pack`, then the tarball installed into a fresh project and used there, from CommonJS,
// ESM and TypeScript.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_DIR, startSim } from './helpers.mjs'

let sim
let dir
let tarball
before(async () => {
  sim = await startSim({ name: 'packed' })
  dir = mkdtempSync(join(tmpdir(), 'turnout-pack-'))
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PACKAGE_DIR, encoding: 'utf8' })
  const [info] = JSON.parse(out)
  tarball = { path: join(dir, info.filename), files: info.files.map((f) => f.path) }
})
after(async () => {
  await sim.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('the tarball holds the package and nothing else', () => {
  const files = tarball.files
  for (const f of ['package.json', 'lib/index.js', 'lib/index.mjs', 'lib/index.d.ts', 'lib/errors.js', 'lib/fetch.js', 'native/index.js', 'native/turnout.linux-x64-gnu.node']) {
    assert.ok(files.includes(f), `${f} missing from ${files.join(', ')}`)
  }
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('node_modules/')), files.join(', '))
})

test('installs into a fresh project and works from require, import and TypeScript', () => {
  const app = join(dir, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball.path], { cwd: app, stdio: 'pipe' })
  const env = { ...process.env, SIM_URL: sim.url }

  writeFileSync(
    join(app, 'cjs.js'),
    `const { Client, NotFoundError, TurnoutError } = require('turnout')
const client = new Client({ blue: { baseUrl: process.env.SIM_URL }, green: { baseUrl: process.env.SIM_URL }, healthCheck: { enabled: false } })
client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from cjs' }] })
  .then(async (r) => {
    const e = await client.request('GET', '/nowhere').catch((e) => e)
    console.log(JSON.stringify({ content: r.choices[0].message.content, env: r.route.environment, notFound: e instanceof NotFoundError && e instanceof TurnoutError }))
    client.close()
  })
`,
  )
  const cjs = JSON.parse(execFileSync('node', ['cjs.js'], { cwd: app, env, encoding: 'utf8' }))
  assert.deepEqual(cjs, { content: 'Echo: from cjs', env: 'blue', notFound: true })

  writeFileSync(
    join(app, 'esm.mjs'),
    `import { Client, APIStatusError } from 'turnout'
import turnout from 'turnout'
import { createRequire } from 'node:module'
const cjs = createRequire(import.meta.url)('turnout')
const client = new Client({ blue: { baseUrl: process.env.SIM_URL }, green: { baseUrl: process.env.SIM_URL }, healthCheck: { enabled: false } })
const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from esm' }], stream: true })
let text = ''
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
const e = await client.request('GET', '/nowhere').catch((e) => e)
console.log(JSON.stringify({ text, same: turnout.Client === Client && cjs.Client === Client, status: e instanceof cjs.APIStatusError && e instanceof APIStatusError }))
client.close()
`,
  )
  const esm = JSON.parse(execFileSync('node', ['esm.mjs'], { cwd: app, env, encoding: 'utf8' }))
  assert.deepEqual(esm, { text: 'Echo: from esm', same: true, status: true })

  writeFileSync(
    join(app, 'main.ts'),
    `import { Client, RateLimitError, type ChatCompletion } from 'turnout'
const client = new Client({ blue: { baseUrl: 'http://a/v1', apiKey: 'k' }, green: { baseUrl: 'http://b/v1' }, canaryWeight: 5 })
async function main(): Promise<string> {
  const resp: ChatCompletion = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  const env: 'blue' | 'green' = resp.route.environment
  try { await client.models.list() } catch (e) { if (e instanceof RateLimitError) return String(e.status) }
  return env + (resp.choices[0].message.content ?? '')
}
void main
`,
  )
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        types: ['node'],
        typeRoots: [join(PACKAGE_DIR, 'node_modules', '@types')],
      },
      files: ['main.ts'],
    }),
  )
  execFileSync(join(PACKAGE_DIR, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' })
  assert.ok(readdirSync(join(app, 'node_modules', 'turnout', 'native')).some((f) => f.endsWith('.node')))
})
