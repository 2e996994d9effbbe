// 1000 requests in flight at once through one client.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '../lib/index.mjs'
import { hello, pairOptions, startPair } from './helpers.mjs'

let pair
let client
before(async () => {
  pair = await startPair()
  await Promise.all([pair.blue.reset(), pair.green.reset()])
  client = new Client(pairOptions(pair, { canaryWeight: 30 }))
})
after(async () => {
  client.close()
  await pair.stop()
})

test('1000 concurrent requests all succeed, split by the canary weight', async () => {
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => client.chat.completions.create(hello(`request ${i}`), { routingKey: `user-${i}` })),
  )
  const counts = { blue: 0, green: 0 }
  results.forEach((resp, i) => {
    assert.match(resp.choices[0].message.content, new RegExp(`request ${i}\\b`))
    counts[resp.route.environment]++
  })
  assert.equal(counts.blue + counts.green, 1000)
  // 30% ± a generous margin (bucketing by 1000 distinct keys).
  assert.ok(counts.green > 220 && counts.green < 380, JSON.stringify(counts))
  const [blue, green] = await Promise.all([pair.blue.stats(), pair.green.stats()])
  assert.equal(blue.total, counts.blue)
  assert.equal(green.total, counts.green)
})

test('200 concurrent streams all complete', async () => {
  const texts = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const stream = await client.chat.completions.create({ ...hello(`stream ${i} of many`), stream: true })
      let text = ''
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
      return text
    }),
  )
  texts.forEach((t, i) => assert.match(t, new RegExp(`stream ${i} of many`)))
})
