// A/B split: half the users get v2 on green, each user always the same side (sticky
// bucketing by routing key), and premium users always v2 (a rule on request metadata).
//
//   npx tsc && node dist/ab_split.js   (with two simulators running, see sims.mjs)
import { Client, type ChatCompletion, type Side } from 'turnout'
import { BLUE_KEY, BLUE_URL, GREEN_KEY, GREEN_URL } from './sims.mjs'

const client = new Client({
  blue: { baseUrl: BLUE_URL, apiKey: BLUE_KEY, label: 'A' },
  green: { baseUrl: GREEN_URL, apiKey: GREEN_KEY, label: 'B' },
  canaryWeight: 50,
  sticky: true,
  rules: [{ match: { tier: 'premium' }, environment: 'green' }],
  healthCheck: { enabled: false },
})

async function ask(user: string, tier: 'free' | 'premium'): Promise<ChatCompletion> {
  return client.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello from ${user}` }] },
    { routingKey: user, metadata: { tier } },
  )
}

const counts: Record<Side, number> = { blue: 0, green: 0 }
const sideOf = new Map<string, Side>()
for (let i = 0; i < 200; i++) {
  const user = `user-${i}`
  const resp = await ask(user, 'free')
  counts[resp.route.environment]++
  sideOf.set(user, resp.route.environment)
}
console.log(`free users: ${counts.blue} on A (blue), ${counts.green} on B (green)`)

let sticky = true
for (const [user, side] of [...sideOf].slice(0, 50)) {
  const again = await ask(user, 'free')
  if (again.route.environment !== side) sticky = false
}
console.log(`the same user always gets the same side: ${sticky}`)

const premium = await ask('user-0', 'premium')
console.log(`a premium user gets: ${premium.route.label} (${premium.route.environment})`)
client.close()
if (!sticky || premium.route.environment !== 'green') process.exit(1)
