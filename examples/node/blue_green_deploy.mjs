// @ts-check
// Blue/green deploy: v1 serves everything on blue; v2 is deployed on green, checked, and
// switched to in one step; when it misbehaves, one call rolls back.
//
//   node blue_green_deploy.mjs      (with two simulators running, see sims.mjs)
import { Client } from 'turnout'
import { BLUE_KEY, BLUE_URL, GREEN_KEY, GREEN_URL } from './sims.mjs'

const client = new Client({
  blue: { baseUrl: BLUE_URL, apiKey: BLUE_KEY, label: 'v1' },
  green: { baseUrl: GREEN_URL, apiKey: GREEN_KEY, label: 'v2' },
  active: 'blue',
  healthCheck: { enabled: false },
  timeoutMs: 10_000,
})

/**
 * Sends one request and says who answered.
 * @param {string} question
 */
async function ask(question) {
  const resp = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
  })
  const { environment, label } = resp.route
  console.log(`  ${environment} (${label}) answered: ${resp.choices[0].message.content}`)
  return environment
}

console.log('1. v1 on blue serves all traffic')
await ask('hello from before the deploy')

console.log('2. v2 is deployed on green; probe it before switching')
const probe = await client.healthCheck('green')
console.log(`  green healthy: ${probe.healthy} (${probe.latencyMs.toFixed(1)} ms)`)
if (!probe.healthy) throw new Error(`green is not healthy: ${probe.error}`)

console.log('3. switch: green takes all traffic at once')
client.switchTo('green')
await ask('hello after the switch')

console.log('4. something is off with v2: roll back to the last known-good state')
client.rollback('v2 answers look wrong')
await ask('hello after the rollback')

console.log('5. what happened, from the history:')
for (const event of client.history()) {
  console.log(`  ${event.at} ${event.type}: ${event.reason}`)
}
console.log(`active side now: ${client.status().active}`)
client.close()
