// Every ```js block of README.md and docs/*.md runs, doctest-style: the blocks of one file run
// in order as one module, against two simulators, so a renamed method fails here. Base URLs
// are pointed at the simulators (api.openai.com at blue, any other host at green); the names a
// fragment leaves open (`model`, `messages`, `enough`) are given sample values. A block that is
// not meant to run says so on its fence line: ```js no-run <why> — the reason is required.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PACKAGE_DIR, REPO, startSim } from './helpers.mjs'

const run = promisify(execFile)
const DOCS = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join('docs', f))]
const FENCE = /^```(?<lang>[a-z]+)(?<info>[^\n]*)\n(?<code>[\s\S]*?)^```$/gm
const BLUE_HOSTS = new Set(['api.openai.com', 'a.example'])

/** The js blocks of a doc: `{ line, info, code }`. */
function blocks(doc) {
  const text = readFileSync(join(REPO, doc), 'utf8')
  return [...text.matchAll(FENCE)]
    .filter((m) => m.groups.lang === 'js')
    .map((m) => ({ line: text.slice(0, m.index).split('\n').length, info: m.groups.info.trim(), code: m.groups.code }))
}

/** One module of a doc's runnable blocks, its top-level declarations shared as `var`s. */
function program(doc, pair) {
  const index = JSON.stringify(join(PACKAGE_DIR, 'lib', 'index.js'))
  const parts = [
    "import { createRequire } from 'node:module'",
    'const require = createRequire(import.meta.url)',
    "var model = 'gpt-4o-mini', messages = [{ role: 'user', content: 'hi' }], enough = false",
  ]
  let ran = 0
  for (const { line, info, code } of blocks(doc)) {
    if (info.startsWith('no-run')) {
      assert.ok(info.slice('no-run'.length).trim(), `${doc}:${line}: no-run needs a reason`)
      continue
    }
    ran += 1
    const body = code
      .replace(/https:\/\/([A-Za-z0-9.-]+)\/v1/g, (_, host) => (BLUE_HOSTS.has(host) ? pair.blue.url : pair.green.url))
      .replace(/require\('turnout'\)/g, `require(${index})`)
      .replace(/^(const|let) /gm, 'var ')
    parts.push(`// ${doc}:${line}`, body)
  }
  return { source: parts.join('\n'), ran }
}

let pair
let dir
before(async () => {
  // Without keys: the docs' own keys (placeholders, unset variables) are accepted.
  const [blue, green] = await Promise.all([startSim({ name: 'blue' }), startSim({ name: 'green' })])
  pair = { blue, green, stop: () => Promise.all([blue.stop(), green.stop()]) }
  // Inside the package, so that `import ... from 'openai'` resolves to its dev dependency.
  dir = mkdtempSync(join(PACKAGE_DIR, 'test', '.docs-'))
})
after(async () => {
  rmSync(dir, { recursive: true, force: true })
  await pair.stop()
})

for (const doc of DOCS.filter((d) => blocks(d).length > 0)) {
  test(`the js blocks of ${doc} run`, async () => {
    const { source, ran } = program(doc, pair)
    const file = join(dir, `${doc.replace(/[/.]/g, '_')}.mjs`)
    writeFileSync(file, source)
    try {
      await run(process.execPath, [file], { timeout: 60_000 })
    } catch (err) {
      assert.fail(`${doc}: ${err.stderr || err.message}`)
    }
    console.log(`${doc}: ran ${ran} js blocks`)
    assert.ok(ran > 0)
  })
}
