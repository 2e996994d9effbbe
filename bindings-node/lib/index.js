'use strict'
// The public `turnout` package: a thin JS layer over the native module (native/, built by
// napi-rs). It shapes calls like openai-node, maps errors to exported classes, and turns
// native streams into async iterators. Every routing decision is made in Rust.

const native = require('../native/index.js')
const errors = require('./errors.js')
const { createFetch, checkTimeout, normalizeBasePath } = require('./fetch.js')
const { abortError, cancellable } = require('./abort.js')

const { fromNative, ConfigError } = errors
const INTERNAL = Symbol('turnout.internal')
const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

function rethrow(err) {
  throw fromNative(err)
}

/** Calls a synchronous native method, mapping its errors. */
function sync(fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** `{ routingKey, environment, metadata, timeoutMs, deadlineMs, priority }` for the native side; metadata values as strings. */
function callOptions(options) {
  if (options == null) return undefined
  if (typeof options !== 'object') throw new ConfigError('request options must be an object')
  const out = {}
  if (options.routingKey != null) out.routingKey = String(options.routingKey)
  if (options.environment != null) out.environment = String(options.environment)
  if (options.timeoutMs != null) {
    if (typeof options.timeoutMs !== 'number') throw new ConfigError('timeoutMs must be a number of milliseconds')
    out.timeoutMs = options.timeoutMs
  }
  if (options.deadlineMs != null) {
    if (typeof options.deadlineMs !== 'number') throw new ConfigError('deadlineMs must be a number of milliseconds')
    out.deadlineMs = options.deadlineMs
  }
  if (options.priority != null) out.priority = String(options.priority)
  if (options.metadata != null) {
    if (typeof options.metadata !== 'object') throw new ConfigError('metadata must be an object of strings')
    const metadata = {}
    for (const [k, v] of Object.entries(options.metadata)) {
      if (v != null) metadata[k] = String(v)
    }
    out.metadata = metadata
  }
  return out
}

/** An upstream answer: the parsed body with a non-enumerable `route`. */
function answer(native) {
  const data = JSON.parse(native.body)
  if (data !== null && typeof data === 'object') {
    Object.defineProperty(data, 'route', { value: JSON.parse(native.route), enumerable: false, configurable: true, writable: true })
  }
  return data
}

/**
 * An async iterable of the events of a streaming answer (chat completion chunks, Responses API events).
 * Leaving a `for await` loop early (`break`, `return`, a throw) cancels the upstream request.
 */
class Stream {
  #native
  #buffer = []
  #index = 0
  #done = false

  #signal = null
  #onAbort = null
  #abortReason = undefined

  constructor(nativeStream, signal) {
    this.#native = nativeStream
    /** How the stream was routed (known once its first event arrived). */
    this.route = nativeStream.route
    if (signal) {
      // The request's signal also ends the stream: the next read throws its reason.
      this.#signal = signal
      this.#onAbort = () => {
        this.#abortReason = abortError(signal)
        this.close()
      }
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  #release() {
    if (this.#signal) this.#signal.removeEventListener('abort', this.#onAbort)
    this.#signal = null
  }

  [Symbol.asyncIterator]() {
    return this
  }

  /** The next event. */
  async next() {
    if (this.#index < this.#buffer.length) {
      return { value: this.#buffer[this.#index++], done: false }
    }
    if (this.#abortReason !== undefined) throw this.#abortReason
    if (this.#done) return { value: undefined, done: true }
    let batch
    try {
      batch = await this.#native.next()
    } catch (err) {
      this.#done = true
      this.#release()
      throw fromNative(err)
    }
    if (this.#abortReason !== undefined) throw this.#abortReason
    if (batch === null) {
      this.#done = true
      this.#release()
      return { value: undefined, done: true }
    }
    this.#buffer = batch.map((text) => JSON.parse(text))
    this.#index = 1
    return { value: this.#buffer[0], done: false }
  }

  /** Ends the stream and cancels the upstream request; called by `break`. */
  async return() {
    this.close()
    return { value: undefined, done: true }
  }

  /** Ends the stream and cancels the upstream request (idempotent). */
  close() {
    this.#done = true
    this.#buffer = []
    this.#index = 0
    this.#release()
    this.#native.close()
  }

  [inspectCustom]() {
    return `Stream { route: ${JSON.stringify(this.route)} }`
  }
}

/**
 * A list answer (`models.list()`): `data` and `object` as the upstream sent them, a
 * non-enumerable `route`, and iteration over the items (`for (const m of page)`, `for await`).
 */
class Page {
  constructor(body, route) {
    Object.assign(this, body)
    Object.defineProperty(this, 'route', { value: route, enumerable: false, configurable: true, writable: true })
  }

  /** The items of this page. */
  getPaginatedItems() {
    return Array.isArray(this.data) ? this.data : []
  }

  /** Whether another page follows: turnout's list answers are one page, as OpenAI's models list is. */
  hasNextPage() {
    return false
  }

  [Symbol.iterator]() {
    return this.getPaginatedItems()[Symbol.iterator]()
  }

  async *[Symbol.asyncIterator]() {
    yield* this.getPaginatedItems()
  }
}

/** A promise of a page that is also async-iterable over its items, like openai-node's `PagePromise`. */
function pagePromise(promise) {
  promise[Symbol.asyncIterator] = async function* items() {
    yield* await promise
  }
  return promise
}

/** A request whose body has `stream: true` returns a `Stream`. */
async function send(nativeClient, method, path, body, options) {
  const opts = callOptions(options)
  const text = body === undefined || body === null ? undefined : JSON.stringify(body)
  const signal = options?.signal
  if (body != null && body.stream === true) {
    const ns = await cancellable(signal, (token) => nativeClient.stream(method, path, text, opts, token)).catch(rethrow)
    return new Stream(ns, signal)
  }
  return answer(await cancellable(signal, (token) => nativeClient.request(method, path, text, opts, token)).catch(rethrow))
}

function requireObject(params, what) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new ConfigError(`${what} expects an object of parameters`)
  }
}

/**
 * A routed client for an OpenAI-compatible API with two environments, blue and green.
 * See `index.d.ts` for the options and methods.
 */
class Client {
  #native

  /**
   * @param {object} options camelCase options, durations in milliseconds (see the README).
   */
  constructor(options, nativeClient) {
    let fetchBasePath
    let fetchTimeoutMs
    if (options === INTERNAL) {
      this.#native = nativeClient
    } else {
      if (options === null || typeof options !== 'object') {
        throw new ConfigError('new Client(options) expects an object, e.g. { blue: { baseUrl, apiKey }, green: { baseUrl, apiKey } }')
      }
      // The options of the JS layer alone (its fetch's): the core's config never sees them.
      let core
      ;({ fetchBasePath, fetchTimeoutMs, ...core } = options)
      normalizeBasePath(fetchBasePath)
      checkTimeout(fetchTimeoutMs)
      this.#native = sync(() => new native.NativeClient(core))
    }
    const n = this.#native
    /** Chat completions (`client.chat.completions.create`). */
    this.chat = Object.freeze({
      completions: Object.freeze({
        create: async (params, options) => {
          requireObject(params, 'chat.completions.create')
          return send(n, 'POST', '/chat/completions', params, options)
        },
      }),
    })
    /** The Responses API (`client.responses.create`). */
    this.responses = Object.freeze({
      create: async (params, options) => {
        requireObject(params, 'responses.create')
        return send(n, 'POST', '/responses', params, options)
      },
    })
    /** Embeddings (`client.embeddings.create`). */
    this.embeddings = Object.freeze({
      create: async (params, options) => {
        requireObject(params, 'embeddings.create')
        return send(n, 'POST', '/embeddings', params, options)
      },
    })
    /** Models (`client.models.list`, `client.models.retrieve`). */
    this.models = Object.freeze({
      list: (options) =>
        pagePromise(send(n, 'GET', '/models', undefined, options).then((body) => new Page(body, body.route))),
      retrieve: async (model, options) => send(n, 'GET', `/models/${encodeURIComponent(model)}`, undefined, options),
    })
    /** A WHATWG `fetch` routed by this client, for `new OpenAI({ fetch: client.fetch })`. */
    this.fetch = createFetch(n, fetchBasePath, fetchTimeoutMs)
  }

  /**
   * Another routed `fetch`, for an SDK whose `baseURL` has another path than `/v1`:
   * `basePath` is that path (`'/openai/v1'`) or the `baseURL` itself; or whose `timeout` is
   * another: `timeoutMs`.
   */
  createFetch({ basePath, timeoutMs } = {}) {
    return createFetch(this.#native, basePath, timeoutMs)
  }

  /**
   * A client from a config file (YAML, TOML or JSON) or a config object in the file's shape
   * (snake_case keys, durations in seconds). `${VAR}` expands from the environment.
   */
  static fromConfig(source) {
    if (typeof source === 'string') {
      return new Client(INTERNAL, sync(() => native.NativeClient.fromConfigFile(source)))
    }
    if (source === null || typeof source !== 'object') {
      throw new ConfigError('Client.fromConfig expects a file path or a config object')
    }
    return new Client(INTERNAL, sync(() => native.NativeClient.fromConfigValue(source)))
  }

  /** Sends any request (path under the base URL, e.g. `/responses`), routed like the others. */
  async request(method, path, body, options) {
    if (typeof method !== 'string' || typeof path !== 'string') {
      throw new ConfigError('request(method, path, body?, options?) expects a method and a path')
    }
    if (body != null && typeof body !== 'object') throw new ConfigError('request() expects the body as an object')
    return send(this.#native, method, path, body, options)
  }

  /** The traffic state, per-side health, circuits and window statistics. */
  status() {
    return sync(() => this.#native.status())
  }

  /** Makes `environment` active with no canary: an instant blue/green switch. */
  switchTo(environment, { force = false } = {}) {
    return sync(() => this.#native.switchTo(String(environment), Boolean(force)))
  }

  /** Sends `percent` (0..100) of traffic to the candidate. */
  setCanaryWeight(percent, options = {}) {
    if (typeof percent !== 'number') throw new ConfigError(`canaryWeight must be a number, got ${typeof percent}`)
    return sync(() => this.#native.setCanaryWeight(percent, Boolean(options.force)))
  }

  /** Makes the candidate active; weight back to 0. */
  promote({ force = false } = {}) {
    return sync(() => this.#native.promote(Boolean(force)))
  }

  /** Returns to the last known-good traffic state. */
  rollback(reason = 'manual', { force = false } = {}) {
    return sync(() => this.#native.rollback(String(reason), Boolean(force)))
  }

  /** Probes `environment` now: `{ environment, healthy, latencyMs, error }`. */
  async healthCheck(environment) {
    try {
      return await this.#native.healthCheck(String(environment))
    } catch (err) {
      throw fromNative(err)
    }
  }

  /**
   * Starts a progressive rollout of the candidate:
   * `{ steps: [{ weight, holdMs, minRequests }], gates, intervalMs, failureLimit, stepDeadlineMs }`.
   * Returns the rollout's status.
   */
  startRollout(plan) {
    if (plan === null || typeof plan !== 'object') throw new ConfigError('startRollout expects a plan object { steps, gates, intervalMs }')
    return sync(() => this.#native.startRollout(plan))
  }

  /** Pauses the rollout at its step; returns its status. */
  pauseRollout() {
    return sync(() => this.#native.pauseRollout())
  }

  /** Resumes a paused rollout; returns its status. */
  resumeRollout() {
    return sync(() => this.#native.resumeRollout())
  }

  /** Aborts the rollout (the candidate's weight back to 0); returns its status. */
  abortRollout(reason = 'aborted by request') {
    return sync(() => this.#native.abortRollout(String(reason)))
  }

  /** The current rollout's progress, or the last one's outcome; `null` before the first. */
  rollout() {
    return sync(() => this.#native.rollout())
  }

  /** Takes a checkpoint of the traffic state and routing config: `{ id, name, hash, createdAt, ... }`. */
  checkpoint(name) {
    return sync(() => this.#native.checkpoint(String(name)))
  }

  /** The checkpoints kept (the last ten), oldest first. */
  checkpoints() {
    return sync(() => this.#native.checkpoints())
  }

  /** Re-applies checkpoint `id`'s traffic state; returns the new traffic state. */
  restoreCheckpoint(id, { force = false } = {}) {
    return sync(() => this.#native.restoreCheckpoint(String(id), Boolean(force)))
  }

  /** The Prometheus metrics of this client, as OpenMetrics text. */
  metricsText() {
    return sync(() => this.#native.metricsText())
  }

  /** The address (`host:port`) the built-in metrics listener serves on (`metrics.listen`), or `null`. */
  metricsAddress() {
    return this.#native.metricsAddr() ?? null
  }

  /** @deprecated the old name of `metricsAddress()` (Python: `metrics_address()`). */
  metricsAddr() {
    return this.metricsAddress()
  }

  /**
   * Runs the periodic checks now: the rollback guard judges every gate and a running rollout
   * is evaluated once, as if its interval had come (background tasks do this on their own).
   */
  tick() {
    sync(() => this.#native.tick())
  }

  /** Token and cost totals since the client was built: overall, by environment, model and tag. */
  costs() {
    return sync(() => this.#native.costs())
  }

  /** Replaces a side's keys at run time; requests in flight finish with the key they were sent with. */
  rotateKeys(side, keys) {
    if (!Array.isArray(keys)) throw new ConfigError('rotateKeys(side, keys): keys must be an array of strings')
    sync(() => this.#native.rotateKeys(String(side), keys.map(String)))
  }

  /** The shadow traffic so far: counts, rates, this hour's spend, the last differing pairs (keys redacted). */
  shadowReport() {
    return sync(() => this.#native.shadowReport())
  }

  /** The events kept in memory (the last 1000), oldest first. */
  history() {
    return sync(() => this.#native.history())
  }

  /**
   * Calls `callback(event)` for every future event; returns a function that unsubscribes.
   * A callback that throws is reported as a process warning and stays subscribed.
   */
  onEvent(callback) {
    if (typeof callback !== 'function') throw new ConfigError('onEvent expects a function')
    const subscription = this.#native.onEvent((text) => {
      try {
        callback(JSON.parse(text))
      } catch (err) {
        // Never let a callback's exception reach napi: it would end the process.
        process.emitWarning(`turnout: an onEvent callback threw: ${err && err.stack ? err.stack : err}`, 'TurnoutWarning')
      }
    })
    return () => subscription.unsubscribe()
  }

  /** Stops background tasks; later requests and operations throw `ClientClosedError`. */
  close() {
    this.#native.close()
  }

  [inspectCustom](depth, options, inspect) {
    // Shows what status() shows: key fingerprints, never keys.
    let view
    try {
      const s = this.#native.status()
      const env = (e) => ({ baseUrl: e.baseUrl, label: e.label, key: e.key })
      view = { active: s.active, canaryWeight: s.canaryWeight, blue: env(s.environments.blue), green: env(s.environments.green) }
    } catch {
      view = {}
    }
    return `Client ${inspect ? inspect(view, { ...options, depth: 2 }) : JSON.stringify(view)}`
  }
}

/** The content type of `metricsText()`, for an app serving it from its own `/metrics` route. */
Client.metricsContentType = native.metricsContentType()

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = function dispose() {
    this.close()
  }
}

/** The sticky bucket (0..10000) of `key` under `salt`: the routing function of every turnout SDK. */
function bucket(salt, key) {
  return native.bucket(String(salt), String(key))
}

/** Whether `key` falls in the candidate's share of `weightBp` basis points under `salt`. */
function isCandidate(salt, key, weightBp) {
  return native.isCandidate(String(salt), String(key), weightBp)
}

module.exports = {
  Client,
  Stream,
  Page,
  bucket,
  isCandidate,
  TurnoutError: errors.TurnoutError,
  ConfigError: errors.ConfigError,
  NoHealthyEnvironmentError: errors.NoHealthyEnvironmentError,
  APIError: errors.APIError,
  APIConnectionError: errors.APIConnectionError,
  APITimeoutError: errors.APITimeoutError,
  APIStatusError: errors.APIStatusError,
  BadRequestError: errors.BadRequestError,
  AuthenticationError: errors.AuthenticationError,
  PermissionDeniedError: errors.PermissionDeniedError,
  NotFoundError: errors.NotFoundError,
  UnprocessableEntityError: errors.UnprocessableEntityError,
  RateLimitError: errors.RateLimitError,
  InternalServerError: errors.InternalServerError,
  StreamInterruptedError: errors.StreamInterruptedError,
  StoreError: errors.StoreError,
  NoRolloutError: errors.NoRolloutError,
  UnknownCheckpointError: errors.UnknownCheckpointError,
  RefusedError: errors.RefusedError,
  ClientClosedError: errors.ClientClosedError,
  ClientRateLimitError: errors.ClientRateLimitError,
}
