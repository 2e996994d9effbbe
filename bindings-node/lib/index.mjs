// ESM entry point: the same module as the CommonJS one (one native instance, one set of classes).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const turnout = require('./index.js')

export const {
  Client,
  Stream,
  Page,
  bucket,
  isCandidate,
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
} = turnout
export default turnout
