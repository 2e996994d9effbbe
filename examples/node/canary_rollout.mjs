// @ts-check
// Canary rollout: the idle side gets a growing share of traffic, step by step, while gates
// watch its error rate. A healthy release is promoted; a broken one is rolled back
// automatically, before most users ever see it.
//
//   node canary_rollout.mjs         (with two simulators running, see sims.mjs)
import { Client } from 'turnout'
import { BLUE_KEY, BLUE_URL, GREEN_KEY, GREEN_URL, setSimFaults } from './sims.mjs'

const client = new Client({
  blue: { baseUrl: BLUE_URL, apiKey: BLUE_KEY, label: 'v1' },
  green: { baseUrl: GREEN_URL, apiKey: GREEN_KEY, label: 'v2' },
  healthCheck: { enabled: false },
  // Failures on green are not retried on blue here, so that the gates see them.
  retry: { maxAttempts: 1 },
  timeoutMs: 10_000,
})

client.onEvent((event) => {
  if (event.type.startsWith('rollout') || event.type === 'rollback' || event.type === 'promote') {
    console.log(`  event ${event.type}: ${event.reason}`)
  }
})

const plan = {
  steps: [
    { weight: 10, minRequests: 5 },
    { weight: 50, minRequests: 10 },
    { weight: 100, minRequests: 10 },
  ],
  gates: { maxErrorRate: 0.1, minRequests: 5 },
  intervalMs: 100,
}

/**
 * Sends traffic from many users until the rollout ends (or a deadline passes).
 * @param {number} deadlineMs
 */
async function driveTraffic(deadlineMs) {
  const end = Date.now() + deadlineMs
  let user = 0
  const served = { blue: 0, green: 0, failed: 0 }
  while (Date.now() < end) {
    const rollout = client.rollout()
    if (rollout && rollout.state !== 'running') break
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        try {
          const resp = await client.chat.completions.create(
            { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
            { routingKey: `user-${user++}` },
          )
          served[resp.route.environment]++
        } catch {
          served.failed++
        }
      }),
    )
  }
  return served
}

console.log('1. roll out a healthy v2 on green')
client.startRollout(plan)
let served = await driveTraffic(20_000)
console.log(`  served: ${JSON.stringify(served)}`)
console.log(`  rollout ${client.rollout()?.state}; active side now: ${client.status().active}`)

console.log('2. v3 is deployed on blue, now the idle side, and is broken (40% errors): roll it out')
await setSimFaults(BLUE_URL, { error_rate: 0.4, error_status: 503 })
try {
  client.startRollout(plan)
  served = await driveTraffic(20_000)
  console.log(`  served: ${JSON.stringify(served)}`)
  const rollout = client.rollout()
  console.log(`  rollout ${rollout?.state}: ${rollout?.reason}`)
  console.log(`  active side still: ${client.status().active}, canary weight ${client.status().canaryWeight}%`)
} finally {
  await setSimFaults(BLUE_URL, {})
  client.close()
}
