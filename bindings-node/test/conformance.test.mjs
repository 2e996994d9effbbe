// The shared sticky-bucketing vectors (tests/conformance/bucketing.json), which the Rust and
// Python suites read too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { bucket, isCandidate } from '../lib/index.mjs'
import { REPO } from './helpers.mjs'

const { vectors } = JSON.parse(readFileSync(join(REPO, 'tests', 'conformance', 'bucketing.json'), 'utf8'))

test('the bucketing vectors are there', () => {
  assert.ok(vectors.length >= 10, `only ${vectors.length} vectors`)
})

test('bucket() matches every vector', () => {
  for (const v of vectors) {
    assert.equal(bucket(v.salt, v.key), v.bucket, `bucket(${JSON.stringify(v.salt)}, ${JSON.stringify(v.key)})`)
  }
})

test('isCandidate() gives every vector its side', () => {
  for (const v of vectors) {
    const side = isCandidate(v.salt, v.key, v.weight_bp) ? 'candidate' : 'active'
    assert.equal(side, v.side, `${JSON.stringify(v)}`)
  }
})
