'use strict'
// `client.fetch`: a WHATWG fetch for the official openai SDK
// (`new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: client.fetch })`).
//
// A pass-through: the method, the path under the SDK's base path (query included), every
// header and the body bytes go to the core (`sendRaw`), which reads the routing headers, picks
// the side, replaces the credentials with that side's and sends the rest as it is. The side's
// answer comes back as it was sent — status, headers, bytes, or a stream of bytes — plus the
// `x-turnout-*` headers. Failures without an HTTP answer come back as the core's synthetic
// 400/502/503/504 answer with `x-should-retry: false`, so the SDK raises its own error at once.
// The SDK's timeout bounds the call until the answer is handed over: the core reads it from
// the SDK's `X-Stainless-Timeout` header (a per-request `timeout`), else takes the one given
// here (`fetchTimeoutMs`, `createFetch({ timeoutMs })`: the SDK client's, which it does not
// send), less the time spent here first; turnout answers, a 504 at worst, before the SDK would
// abort and retry. No routing logic lives here.

const { abortError, cancellable } = require('./abort.js')
const { fromNative, ConfigError } = require('./errors.js')

/** The base path of the SDK's `baseURL` when none is given (`https://…/v1`). */
const DEFAULT_BASE_PATH = '/v1'

/** Statuses whose `Response` must have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/**
 * `'/v1'`, `'v1/'`, `'/openai/v1/'` → `'/v1'`, `'/openai/v1'`; `''` or `'/'` → `''` (no
 * prefix); a whole URL (the SDK's `baseURL`) → its path.
 */
function normalizeBasePath(basePath) {
  if (basePath == null) return DEFAULT_BASE_PATH
  if (typeof basePath !== 'string') throw new ConfigError('the fetch base path must be a string such as "/v1"')
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(basePath) ? new URL(basePath).pathname : basePath
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  return trimmed === '' ? '' : '/' + trimmed
}

/** The SDK's timeout in milliseconds, as given (`undefined` when none is). */
function checkTimeout(timeoutMs) {
  if (timeoutMs == null) return undefined
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new ConfigError(`the fetch timeout must be the SDK's timeout in milliseconds (a positive number), got ${timeoutMs}`)
  }
  return timeoutMs
}

/**
 * The path under the environment's base URL: what follows `basePath` in the SDK's URL, query
 * included. A URL outside `basePath` is sent with its whole path.
 */
function routedPath(url, basePath = DEFAULT_BASE_PATH) {
  let path = url.pathname
  if (basePath !== '' && (path === basePath || path.startsWith(basePath + '/'))) path = path.slice(basePath.length)
  return (path || '/') + url.search
}

/** `[name, value]` pairs from any `HeadersInit` (a `Headers`, pairs, or a record). */
function headerPairs(headers) {
  if (headers == null) return []
  const out = []
  const iterable = typeof headers[Symbol.iterator] === 'function'
  for (const [name, value] of iterable ? headers : Object.entries(headers)) {
    if (value === undefined || value === null) continue
    out.push([String(name).toLowerCase(), String(value)])
  }
  return out
}

/** Reads a `ReadableStream` (or any async iterable of chunks) to its end. */
async function readAll(stream) {
  const parts = []
  let length = 0
  const add = (chunk) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : toBuffer(chunk)
    parts.push(bytes)
    length += bytes.length
  }
  if (typeof stream.getReader === 'function') {
    const reader = stream.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      add(value)
    }
  } else {
    for await (const chunk of stream) add(chunk)
  }
  return Buffer.concat(parts, length)
}

/** A `Buffer` view of an `ArrayBuffer` or a typed array (no copy). */
function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data
  if (data instanceof ArrayBuffer) return Buffer.from(data)
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  throw new ConfigError(`client.fetch cannot send a body of type ${Object.prototype.toString.call(data)}`)
}

/**
 * The body as bytes, and the content type fetch would give it when the caller set none
 * (FormData: its multipart type with the boundary of these bytes).
 */
async function bodyBytes(body) {
  if (body == null) return { bytes: null, type: null }
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), type: 'text/plain;charset=UTF-8' }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { bytes: toBuffer(body), type: null }
  if (body instanceof URLSearchParams) {
    return { bytes: Buffer.from(body.toString(), 'utf8'), type: 'application/x-www-form-urlencoded;charset=UTF-8' }
  }
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    // The platform's own multipart encoder: the bytes and the boundary fetch would send.
    const encoded = new Response(body)
    return { bytes: Buffer.from(await encoded.arrayBuffer()), type: encoded.headers.get('content-type') }
  }
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return { bytes: Buffer.from(await body.arrayBuffer()), type: body.type || null }
  }
  if (typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function') {
    return { bytes: await readAll(body), type: null }
  }
  throw new ConfigError(`client.fetch cannot send a body of type ${Object.prototype.toString.call(body)}`)
}

/** The side's bytes as a `ReadableStream`, pulled from the native stream; aborting `signal` closes it. */
function byteStream(ns, signal) {
  let onAbort
  const release = () => {
    if (signal) signal.removeEventListener('abort', onAbort)
  }
  return new ReadableStream(
    {
      start(controller) {
        if (!signal) return
        onAbort = () => {
          ns.close()
          try {
            controller.error(abortError(signal))
          } catch {
            // Already closed.
          }
        }
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      },
      async pull(controller) {
        let chunk
        try {
          chunk = await ns.next()
        } catch (err) {
          release()
          controller.error(fromNative(err))
          return
        }
        if (signal?.aborted) return
        if (chunk === null) {
          release()
          controller.close()
          return
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      },
      cancel() {
        release()
        ns.close()
      },
    },
    { highWaterMark: 0 },
  )
}

/** The `Response` of a native answer. */
function toResponse(answer, method, signal) {
  const headers = new Headers()
  for (const [name, value] of answer.headers) headers.append(name, value)
  let body = null
  if (answer.stream) {
    body = byteStream(answer.stream, signal)
  } else if (answer.body && !NULL_BODY.has(answer.status) && method !== 'HEAD') {
    body = answer.body
  }
  if (body === null && answer.stream) answer.stream.close()
  return new Response(body, { status: answer.status, headers })
}

/** The parts of a `fetch(input, init)` call, `init` winning over a `Request`'s own. */
async function requestParts(input, init) {
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
    if (init.body === undefined && input.body !== null) body = await input.arrayBuffer()
  } else {
    url = String(input)
  }
  if (init.method) method = init.method
  if (init.headers) headers = init.headers
  if (init.body !== undefined) body = init.body
  if (init.signal) signal = init.signal
  return { url: new URL(url), method: method.toUpperCase(), headers, body, signal }
}

/**
 * Builds the `fetch` of one native client. `basePath` is the path of the SDK's `baseURL`
 * (`'/v1'` for `http://turnout/v1`): what follows it is the path sent under each side's base URL.
 * `timeoutMs` is the SDK client's `timeout`, if known.
 */
function createFetch(nativeClient, basePath, timeoutMs) {
  const base = normalizeBasePath(basePath)
  const sdkTimeout = checkTimeout(timeoutMs)
  async function fetch(input, init) {
    // The SDK's timer started as it called fetch.
    const started = performance.now()
    const { url, method, headers, body, signal } = await requestParts(input, init ?? {})
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      // `data:` and the like (the SDK probes its fetch with one) are not requests to route.
      return globalThis.fetch(input, init)
    }
    if (signal?.aborted) throw abortError(signal)
    const pairs = headerPairs(headers)
    const { bytes, type } = await bodyBytes(body)
    if (type && !pairs.some(([name]) => name === 'content-type')) pairs.push(['content-type', type])
    let answer
    try {
      answer = await cancellable(signal, (token) =>
        nativeClient.sendRaw(method, routedPath(url, base), pairs, bytes, undefined, token, sdkTimeout, performance.now() - started),
      )
    } catch (err) {
      // Only an abort (its reason, as is) or a bug (a mapped native error) gets here.
      if (signal?.aborted) throw err
      throw fromNative(err)
    }
    return toResponse(answer, method, signal)
  }
  // The SDK builds its multipart probe with this (instead of fetching a `data:` URL).
  fetch.Response = Response
  return fetch
}

module.exports = { createFetch, checkTimeout, normalizeBasePath, routedPath, DEFAULT_BASE_PATH }
