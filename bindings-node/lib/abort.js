'use strict'
// AbortSignal support: a native call races the signal, and a fired signal cancels the native
// future (which drops the upstream request) through a `CancelToken`.

const native = require('../native/index.js')

/** What a fetch-like API rejects with when `signal` fires. */
function abortError(signal) {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/** Runs `call(token)`; when `signal` fires first, cancels the token and rejects with its reason. */
async function cancellable(signal, call) {
  if (signal == null) return call(undefined)
  if (signal.aborted) throw abortError(signal)
  const token = new native.CancelToken()
  let onAbort
  const aborted = new Promise((_, reject) => {
    onAbort = () => {
      token.cancel()
      reject(abortError(signal))
    }
  })
  // The race may settle through `call` with this promise never awaited.
  aborted.catch(() => {})
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([call(token), aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

module.exports = { abortError, cancellable }
