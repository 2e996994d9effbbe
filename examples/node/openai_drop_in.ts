// Drop-in for the official openai SDK: keep the SDK and its types, route every request
// through turnout by handing it `client.fetch`.
//
//   npx tsc && node dist/openai_drop_in.js   (with two simulators running, see sims.mjs)
import OpenAI from 'openai'
import { Client } from 'turnout'
import { BLUE_KEY, BLUE_URL, GREEN_KEY, GREEN_URL } from './sims.mjs'

const turnout = new Client({
  blue: { baseUrl: BLUE_URL, apiKey: BLUE_KEY, label: 'v1' },
  green: { baseUrl: GREEN_URL, apiKey: GREEN_KEY, label: 'v2' },
  canaryWeight: 20,
  healthCheck: { enabled: false },
})

// The only line that changes in an app: turnout holds the real keys and URLs.
const openai = new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: turnout.fetch, maxRetries: 0 })

const completion = await openai.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello through the official SDK' }],
})
console.log(`chat: ${completion.choices[0].message.content}`)

const { data, response } = await openai.chat.completions
  .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'who answers?' }], user: 'user-42' })
  .withResponse()
console.log(`user-42 is served by ${response.headers.get('x-turnout-environment')} (${data.system_fingerprint})`)

const stream = await openai.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'stream these words one by one' }],
  stream: true,
})
let text = ''
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
console.log(`stream: ${text}`)

try {
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })
} catch (err) {
  if (err instanceof OpenAI.BadRequestError) console.log(`the SDK's own errors still work: ${err.status} ${err.message}`)
  else throw err
}
console.log(`requests seen by turnout: blue ${turnout.status().environments.blue.window.requests}, green ${turnout.status().environments.green.window.requests}`)
turnout.close()
