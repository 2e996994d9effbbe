// Where the examples find their two environments: two simulators, e.g.
//   turnout sim --port 8001 --name blue &
//   turnout sim --port 8002 --name green &
// or any OpenAI-compatible endpoints, through these variables.
export const BLUE_URL = process.env.TURNOUT_BLUE_URL ?? 'http://127.0.0.1:8001/v1'
export const GREEN_URL = process.env.TURNOUT_GREEN_URL ?? 'http://127.0.0.1:8002/v1'
export const BLUE_KEY = process.env.TURNOUT_BLUE_KEY ?? ''
export const GREEN_KEY = process.env.TURNOUT_GREEN_KEY ?? ''

/**
 * Sets the faults of a simulator, a stand-in for a bad release (`PUT /_sim/faults`: the knobs
 * given, the others back to none).
 * @param {string} baseUrl the simulator's base URL, `/v1` included
 * @param {Record<string, unknown>} faults e.g. `{ error_rate: 0.5 }`
 */
export async function setSimFaults(baseUrl, faults) {
  const origin = baseUrl.replace(/\/v1\/?$/, '')
  const res = await fetch(`${origin}/_sim/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  })
  if (!res.ok) throw new Error(`cannot set the simulator's faults: HTTP ${res.status}`)
}
