'use strict'
// The exported error classes, and the mapping of native errors onto them.
//
// The native module throws `Error`s whose message is `turnout:` followed by a JSON payload
// `{kind, message, status, body, environment, retryAfterMs}` (bindings-node/src/errors.rs);
// `fromNative` turns those into instances of the classes below so that `instanceof` works.

const PREFIX = 'turnout:'
const RAW_BODY = Symbol('turnout.rawBody')

/** The root of every error turnout throws. `code` is the stable kind, e.g. `"status"`. */
class TurnoutError extends Error {
  constructor(message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? 'turnout'
    this.environment = options.environment ?? null
  }
}

/** The configuration (or an option of a call) is invalid; the message names the field. */
class ConfigError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'config', ...options })
  }
}

/** Both environments are unavailable (circuits open), or the pinned one is. */
class NoHealthyEnvironmentError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'no_healthy_environment', ...options })
  }
}

/** The shared state store is unreachable, or holds contents turnout refuses. */
class StoreError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'store', ...options })
  }
}

/** A rollout operation was asked for while no rollout is running. */
class NoRolloutError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'no_rollout', ...options })
  }
}

/** No checkpoint has the id asked for. */
class UnknownCheckpointError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'unknown_checkpoint', ...options })
  }
}

/** A change was refused: it sends traffic to an unavailable side (pass `{ force: true }`), or its precondition no longer holds. */
class RefusedError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'refused', ...options })
  }
}

/** An upstream request failed. */
class APIError extends TurnoutError {}

/** No answer could be had: the connection failed, or the answer could not be read. */
class APIConnectionError extends APIError {
  constructor(message, options = {}) {
    super(message, { code: 'connect', ...options })
  }
}

/** The request did not finish within its timeout. */
class APITimeoutError extends APIConnectionError {
  constructor(message, options = {}) {
    super(message, { code: 'timeout', ...options })
  }
}

/** The upstream answered with an HTTP error status; `status`, `body` and `environment` say which. */
class APIStatusError extends APIError {
  constructor(message, options = {}) {
    super(message, { code: 'status', ...options })
    this.status = options.status
    const raw = options.body ?? ''
    let body = raw
    try {
      body = JSON.parse(raw)
    } catch {
      // Not JSON: keep the text.
    }
    /** The upstream's body: parsed JSON when it is JSON, else the text. */
    this.body = body
    /** The OpenAI error object of the body (`{message, type, param, code}`), if there is one. */
    this.error = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : undefined
    /** The delay the upstream asked for before a retry, in milliseconds, if it asked. */
    this.retryAfterMs = options.retryAfterMs ?? null
    Object.defineProperty(this, RAW_BODY, { value: raw, enumerable: false })
  }
}

/** HTTP 400. */
class BadRequestError extends APIStatusError {}
/** HTTP 401: the environment's key was refused. */
class AuthenticationError extends APIStatusError {}
/** HTTP 403. */
class PermissionDeniedError extends APIStatusError {}
/** HTTP 404 (an unknown path, or a model the environment does not serve). */
class NotFoundError extends APIStatusError {}
/** HTTP 422. */
class UnprocessableEntityError extends APIStatusError {}
/** HTTP 429 from the upstream. */
class RateLimitError extends APIStatusError {}
/** HTTP 5xx. */
class InternalServerError extends APIStatusError {}

/** A stream failed after data had reached the caller; it is never retried. */
class StreamInterruptedError extends APIError {
  constructor(message, options = {}) {
    super(message, { code: 'stream_interrupted', ...options })
  }
}

/** The client was closed: `close()` was called before this call. */
class ClientClosedError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'closed', ...options })
  }
}

/** A client-side limit (rate or concurrency) gave no permit within the request's timeout. */
class ClientRateLimitError extends TurnoutError {
  constructor(message, options = {}) {
    super(message, { code: 'rate_limited', ...options })
  }
}

function statusClass(status) {
  switch (status) {
    case 400:
      return BadRequestError
    case 401:
      return AuthenticationError
    case 403:
      return PermissionDeniedError
    case 404:
      return NotFoundError
    case 422:
      return UnprocessableEntityError
    case 429:
      return RateLimitError
    default:
      return status >= 500 ? InternalServerError : APIStatusError
  }
}

/** The error a payload from the native module stands for. */
function fromPayload(p) {
  const options = { code: p.kind, environment: p.environment ?? null }
  switch (p.kind) {
    case 'config':
      return new ConfigError(p.message, options)
    case 'no_healthy_environment':
      return new NoHealthyEnvironmentError(p.message, options)
    case 'connect':
      return new APIConnectionError(p.message, options)
    case 'decode':
      // The upstream answered something that is not what it should be (code "decode").
      return new APIError(p.message, options)
    case 'timeout':
      return new APITimeoutError(p.message, options)
    case 'status': {
      const Cls = statusClass(p.status)
      return new Cls(p.message, { ...options, status: p.status, body: p.body, retryAfterMs: p.retryAfterMs })
    }
    case 'stream_interrupted':
      return new StreamInterruptedError(p.message, options)
    case 'store':
      return new StoreError(p.message, options)
    case 'no_rollout':
      return new NoRolloutError(p.message, options)
    case 'unknown_checkpoint':
      return new UnknownCheckpointError(p.message, options)
    case 'refused':
      return new RefusedError(p.message, options)
    case 'closed':
      return new ClientClosedError(p.message, options)
    case 'rate_limited':
      return new ClientRateLimitError(p.message, options)
    default:
      // Kinds added later.
      return new TurnoutError(p.message, options)
  }
}

/** Maps an error thrown by the native module; other errors are returned as they are. */
function fromNative(err) {
  if (err instanceof TurnoutError) return err
  const message = err && typeof err.message === 'string' ? err.message : null
  if (message === null || !message.startsWith(PREFIX)) return err
  let payload
  try {
    payload = JSON.parse(message.slice(PREFIX.length))
  } catch {
    return new TurnoutError(message.slice(PREFIX.length))
  }
  return fromPayload(payload)
}

module.exports = {
  TurnoutError,
  ConfigError,
  NoHealthyEnvironmentError,
  APIError,
  APIConnectionError,
  APITimeoutError,
  APIStatusError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  StreamInterruptedError,
  StoreError,
  NoRolloutError,
  UnknownCheckpointError,
  RefusedError,
  ClientClosedError,
  ClientRateLimitError,
  fromNative,
  RAW_BODY,
}
