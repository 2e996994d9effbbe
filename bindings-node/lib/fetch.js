'use strict'
// `client.fetch`: a WHATWG fetch for the official openai SDK
// (`new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: client.fetch })`).
//
// The path after the SDK's `/v1` goes to turnout, which picks the environment and sends it
// there with that environment's key. Upstream error statuses come back as the same status and
// body, so the SDK raises its own error classes; streams come back as server-sent events as
// they arrive.

const { abortError, cancellable } = require('./abort.js')
const { fromNative, APIStatusError, ConfigError, RAW_BODY } = require('./errors.js')

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const DONE = encoder.encode('data: [DONE]\n\n')

/** Routing options a caller can set per request through headers (e.g. openai's `{ headers }`). */
const ROUTING_KEY = 'x-turnout-routing-key'
const ENVIRONMENT = 'x-turnout-environment'
const METADATA = 'x-turnout-metadata'

/** The path under the environment's base URL: what follows the SDK's `/v1`, query included. */
function routedPath(url) {
  let path = url.pathname
  if (path === '/v1' || path.startsWith('/v1/')) path = path.slice(3)
  return (path || '/') + url.search
}

async function bodyText(body) {
  if (body == null) return undefined
  if (typeof body === 'string') return body
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return decoder.decode(body)
  if (body instanceof URLSearchParams) return body.toString()
  if (typeof Blob !== 'undefined' && body instanceof Blob && !(typeof FormData !== 'undefined' && body instanceof FormData)) {
    return body.text()
  }
  throw new ConfigError('client.fetch routes JSON bodies only; multipart and streamed uploads (files, audio) are not supported')
}

function headerValue(headers, name) {
  if (headers == null) return null
  if (typeof headers.get === 'function') return headers.get(name)
  if (Array.isArray(headers)) {
    const found = headers.find(([k]) => String(k).toLowerCase() === name)
    return found ? found[1] : null
  }
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return v
  }
  return null
}

function routingOptions(headers) {
  const out = {}
  const key = headerValue(headers, ROUTING_KEY)
  if (key != null) out.routingKey = String(key)
  const env = headerValue(headers, ENVIRONMENT)
  if (env != null) out.environment = String(env)
  const meta = headerValue(headers, METADATA)
  if (meta != null) {
    let parsed
    try {
      parsed = JSON.parse(meta)
    } catch {
      throw new ConfigError(`${METADATA} must be a JSON object`)
    }
    const metadata = {}
    for (const [k, v] of Object.entries(parsed ?? {})) if (v != null) metadata[k] = String(v)
    out.metadata = metadata
  }
  return out
}

/** A header-safe value: non-ASCII percent-encoded, as a ByteString must be. */
function headerSafe(value) {
  const text = String(value)
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text)
}

/** The `x-turnout-*` answer headers, the same as the Python transports send. */
function routeHeaders(route, contentType) {
  const headers = {
    'content-type': contentType,
    'x-turnout-environment': route.environment,
    'x-turnout-attempts': String(route.attempts),
  }
  if (route.model) headers['x-turnout-model'] = headerSafe(route.model)
  if (route.label) headers['x-turnout-label'] = headerSafe(route.label)
  return headers
}

/** The `Response` an upstream error status becomes; other failures reject the fetch. */
function errorResponse(err) {
  if (!(err instanceof APIStatusError)) throw err
  const headers = {
    'content-type': 'application/json',
    // turnout has already retried and failed over as its policy says: the SDK should not.
    'x-should-retry': 'false',
  }
  if (err.environment) headers['x-turnout-environment'] = err.environment
  if (err.retryAfterMs != null) headers['retry-after-ms'] = String(Math.ceil(err.retryAfterMs))
  return new Response(err[RAW_BODY], { status: err.status, headers })
}

function sseResponse(ns, signal) {
  let onAbort
  const body = new ReadableStream(
    {
      start(controller) {
        if (signal) {
          onAbort = () => {
            ns.close()
            try {
              controller.error(abortError(signal))
            } catch {
              // Already closed.
            }
          }
          signal.addEventListener('abort', onAbort, { once: true })
        }
      },
      async pull(controller) {
        let batch
        try {
          batch = await ns.next()
        } catch (err) {
          if (signal) signal.removeEventListener('abort', onAbort)
          controller.error(fromNative(err))
          return
        }
        if (batch === null) {
          if (signal) signal.removeEventListener('abort', onAbort)
          controller.enqueue(DONE)
          controller.close()
          return
        }
        let out = ''
        for (const text of batch) {
          out += 'data: ' + text + '\n\n'
        }
        if (out) controller.enqueue(encoder.encode(out))
      },
      cancel() {
        if (signal) signal.removeEventListener('abort', onAbort)
        ns.close()
      },
    },
    { highWaterMark: 0 },
  )
  return new Response(body, {
    status: 200,
    headers: { ...routeHeaders(ns.route, 'text/event-stream'), 'cache-control': 'no-cache' },
  })
}

/** Builds the `fetch` of one native client. */
function createFetch(nativeClient) {
  return async function fetch(input, init) {
    init = init ?? {}
    let url
    let method = 'GET'
    let headers = null
    let body
    let signal = null
    if (typeof Request !== 'undefined' && input instanceof Request) {
      url = input.url
      method = input.method
      headers = input.headers
      signal = input.signal
      if (init.body === undefined && method !== 'GET' && method !== 'HEAD') body = await input.text()
    } else {
      url = String(input)
    }
    if (init.method) method = init.method
    if (init.headers) headers = init.headers
    if (init.body !== undefined) body = init.body
    if (init.signal) signal = init.signal
    method = method.toUpperCase()

    const parsedUrl = new URL(url)
    const path = routedPath(parsedUrl)
    const text = await bodyText(body)
    let json
    if (text !== undefined && text !== '') {
      try {
        json = JSON.parse(text)
      } catch {
        throw new ConfigError('client.fetch routes JSON bodies only; the request body is not JSON')
      }
    }
    const options = routingOptions(headers)
    const payload = text === '' ? undefined : text

    if (json != null && json.stream === true) {
      let ns
      try {
        ns = await cancellable(signal, (token) => nativeClient.stream(method, path, payload, options, token))
      } catch (err) {
        return errorResponse(fromNative(err))
      }
      return sseResponse(ns, signal)
    }
    let answer
    try {
      answer = await cancellable(signal, (token) => nativeClient.request(method, path, payload, options, token))
    } catch (err) {
      return errorResponse(fromNative(err))
    }
    return new Response(answer.body, { status: 200, headers: routeHeaders(answer.route, 'application/json') })
  }
}

module.exports = { createFetch, routedPath }
