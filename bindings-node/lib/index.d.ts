/**
 * turnout: in-process blue/green, canary and fallback routing for OpenAI-compatible LLM APIs.
 *
 * ```ts
 * import { Client } from 'turnout'
 * const client = new Client({
 *   blue: { baseUrl: 'https://a.example/v1', apiKey: process.env.BLUE_KEY, label: 'v1' },
 *   green: { baseUrl: 'https://b.example/v1', apiKey: process.env.GREEN_KEY, label: 'v2' },
 *   canaryWeight: 10,
 * })
 * const resp = await client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] })
 * resp.route.environment // 'blue' | 'green'
 * ```
 *
 * Options are camelCase and durations are milliseconds; a config file (`Client.fromConfig`)
 * uses the file's snake_case keys and seconds.
 *
 * @packageDocumentation
 */

/** One of the two environments. */
export type Side = 'blue' | 'green'

/** How to reach one environment. A string is a base URL with no key. */
export interface EnvironmentOptions {
  /** The base URL, `/v1` included, e.g. `https://api.openai.com/v1`. */
  baseUrl: string
  /** This environment's own key (sent as `auth` says; never shown anywhere). */
  apiKey?: string | string[]
  /** How the key is sent: `Authorization: Bearer` [default], `api-key` (Azure) or `x-api-key` (Anthropic). */
  auth?: 'bearer' | 'api-key' | 'x-api-key'
  /** Query parameters sent with every request (Azure's `api-version`). */
  query?: Record<string, string>
  /** The names this side knows models by: `{ 'gpt-4.1': 'prod-gpt41-deployment' }`. */
  models?: Record<string, string>
  /** A human label (a release name) shown in routes, status and events. */
  label?: string
  /** Extra headers sent with every request to this environment. */
  headers?: Record<string, string>
  /** A request timeout for this environment, in ms (overrides the client's). */
  timeoutMs?: number
}

/** Sends requests whose metadata has every `match` pair to `environment`; first match wins. */
export interface Rule {
  /** Metadata keys and the values they must equal. */
  match: Record<string, string>
  /** The side to send them to. */
  environment: Side
}

/** Retries, backoff and the retry budget. */
export interface RetryOptions {
  /** Every HTTP attempt counts, failovers included [3]. */
  maxAttempts?: number
  /** First backoff, ms [500]. */
  initialBackoffMs?: number
  /** Backoff cap, ms [8000]. */
  maxBackoffMs?: number
  /** Growth per retry [2]. */
  multiplier?: number
  /** Randomisation of the backoff [`"full"`]. */
  jitter?: 'full' | 'equal' | 'none'
  /** The longest `Retry-After` waited for, ms; a longer demand fails at once [60000]. */
  maxRetryAfterMs?: number
  /** Share of extra load retries may add [0.2]. */
  budgetRatio?: number
  /** Retries per second always allowed [10]. */
  budgetMinPerSec?: number
}

/** Active health probes of each side. */
export interface HealthCheckOptions {
  /** Whether probes run in the background [true]. */
  enabled?: boolean
  /** Time between probes, ms [30000]. */
  intervalMs?: number
  /** Timeout of one probe, ms [2000]. */
  timeoutMs?: number
  /** Path probed under the base URL [`/models`]. */
  path?: string
  /** Consecutive failures that mark a side unhealthy [3]. */
  unhealthyThreshold?: number
  /** Consecutive successes that mark it healthy again [2]. */
  healthyThreshold?: number
}

/** The circuit breaker of each side. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open it [5]. */
  failureThreshold?: number
  /** Failure share over the last `windowSize` calls that opens it [0.5]. */
  failureRate?: number
  /** Calls considered for the rate [20]. */
  windowSize?: number
  /** Calls needed before the rate counts [10]. */
  minCalls?: number
  /** Time open before a half-open trial, ms [30000]. */
  cooldownMs?: number
}

/** Gates judging the candidate over its window (the rollback guard, and a rollout's gates). */
export interface RollbackOptions {
  /** Highest error share allowed [0.05]; `null` disables the gate. */
  maxErrorRate?: number | null
  /** Lowest success share allowed. */
  minSuccessRate?: number | null
  /** Highest p99 latency allowed, ms. */
  maxP99LatencyMs?: number
  /** Highest p99 time to first token of streams, ms. */
  maxP99TtftMs?: number
  /** Highest error rate of the candidate minus the active side's. */
  maxErrorRateDelta?: number
  /** Highest share of 429s among the candidate's answers (429s count in no other gate). */
  maxRateLimitedRate?: number
  /** The window judged, ms [60000]. */
  windowMs?: number
  /** Below this many candidate requests a gate is inconclusive [20]. */
  minRequests?: number
  /** What a failure does [`"rollback"`]. */
  action?: 'rollback' | 'alert'
  /** Highest mean cost (USD) of the candidate's priced answers. */
  maxCostPerRequestUsd?: number
  /** Highest ratio of the candidate's mean cost per answer to the stable side's. */
  maxCostRatio?: number
  /** Highest ratio of the candidate's mean output tokens per answer to the stable side's. */
  maxOutputTokensRatio?: number
  /** Lowest cached prompt-token share of the candidate, judged while the stable side reaches it. */
  minCachedTokenShare?: number
  /** Highest share of shadow pairs whose tool calls differ. */
  shadowMaxToolMismatchRate?: number
  /** Highest share of the candidate's shadow answers with an invalid structured output. */
  shadowMaxInvalidJsonRate?: number
  /** Highest ratio of the candidate's shadow cost to the stable side's for the same requests. */
  shadowMaxCostRatio?: number
}

/** Client-side limits. */
export interface RateLimitOptions {
  requestsPerMinute?: number
  tokensPerMinute?: number
  maxConcurrency?: number
}

/** The options of `new Client(...)`: camelCase, durations in milliseconds. */
export interface ClientOptions {
  /** The blue environment (a base URL string, or its options). */
  blue?: EnvironmentOptions | string
  /** The green environment. */
  green?: EnvironmentOptions | string
  /** Both environments, instead of `blue` and `green`. */
  environments?: { blue: EnvironmentOptions | string; green: EnvironmentOptions | string }
  /** The stable side [`"blue"`]. */
  active?: Side
  /** Percent (0..100) of traffic sent to the other side [0]. */
  canaryWeight?: number
  /** Bucket by routing key when one is given [true]. */
  sticky?: boolean
  /** Salt of the sticky bucketing [fixed default; a rollout draws a new one]. */
  salt?: string
  /** Rules sending matching requests to a side. */
  rules?: Rule[]
  retry?: RetryOptions
  /** Model fallback chains: `{ 'gpt-4.1': ['gpt-4o', 'gpt-4o-mini'] }`. */
  modelFallbacks?: Record<string, string[]>
  healthCheck?: HealthCheckOptions
  circuitBreaker?: CircuitBreakerOptions
  /** The automatic rollback guard. */
  rollback?: RollbackOptions
  /** Request timeout, ms [600000]. */
  timeoutMs?: number
  /** Connect timeout, ms [5000]. */
  connectTimeoutMs?: number
  /** Bounds the whole of every call (limiter wait, attempts, backoff, a stream to its end), ms. */
  deadlineMs?: number
  /** Bounds a stream's time from sending to its first event, ms (a timeout of the side). */
  streamFirstEventTimeoutMs?: number
  /** How much an upstream may send, in bytes [64 MiB, 64 KiB, 16 MiB]. */
  bounds?: { responseBodyBytes?: number; errorBodyBytes?: number; sseEventBytes?: number }
  /** Sliding window of the per-side statistics, ms [60000]. */
  statsWindowMs?: number
  rateLimit?: RateLimitOptions
  /** USD per million tokens, by model; merged over the built-in table. */
  pricing?: Record<string, { input: number; output: number }>
  /** The metadata key costs are totalled by [`"team"`]. */
  costTag?: string
  /** `{ listen: '127.0.0.1:9464' }` serves `GET /metrics`. */
  metrics?: { listen?: string }
  /** An in-memory cache of non-streaming answers. */
  cache?: { enabled?: boolean; maxEntries?: number; ttlMs?: number }
  /**
   * The path of the official SDK's `baseURL` that {@link Client.fetch} strips before routing
   * [`'/v1'`]; a whole URL gives its path. Only the JS layer reads it (no config-file key).
   */
  fetchBasePath?: string
  /**
   * The official SDK client's `timeout` (ms) for {@link Client.fetch}: turnout then answers
   * before it — retrying and failing over within it, a 504 (`x-should-retry: false`) at worst
   * — so the SDK neither aborts nor retries. openai-node does not send it (only a
   * per-request `timeout`, which wins). Only the JS layer reads it (no config-file key).
   */
  fetchTimeoutMs?: number
  /** Where the traffic state lives: shared by processes (`file`) or a fleet (`redis`). */
  state?: { backend?: 'memory' | 'file' | 'redis'; path?: string; url?: string; namespace?: string }
  /** Append every event as a JSON line to this file. */
  auditLog?: string
  /** POST every event to this URL. */
  webhook?: string
  /** Hedged requests (inference calls): a second attempt on the same side after `after` (`'p95'`) or `afterMs`. */
  hedge?: { after?: 'p95'; afterMs?: number; maxExtra?: number }
  /** Shadow traffic: a `sample` share of the stable side's chat completions sent again to the candidate, diffed. */
  shadow?: { sample: number; maxConcurrency?: number; maxUsdPerHour?: number }
  /** Opt-in active-active balancing of unkeyed, unpinned requests (off during a canary or rollout). */
  balance?: 'latency' | 'cost'
}

/** Per-request options (the second argument of `create`). */
export interface RequestOptions {
  /** The sticky routing key; defaults to the body's `user` field. */
  routingKey?: string
  /** Pins the request to a side (no failover; model fallbacks still apply). */
  environment?: Side
  /** Metadata matched against rules, and used as the cost tag. */
  metadata?: Record<string, string | number | boolean>
  /** Overrides the request timeout, ms. */
  timeoutMs?: number
  /** Bounds the whole call (limiter wait, attempts, backoff, a stream to its end), ms. */
  deadlineMs?: number
  /** The order of admission when client-side limits make requests wait [`"normal"`]. */
  priority?: 'high' | 'normal' | 'low'
  /** Cancels the request (and, for streams, the upstream request). */
  signal?: AbortSignal
}

/** How a request was served. */
export interface Route {
  /** The side that answered. */
  environment: Side
  /** That side's label. */
  label: string | null
  /** The model that answered. */
  model: string | null
  /** The model asked for, when a fallback answered instead. */
  fallbackFrom: string | null
  /** The model name sent to the side, after its `models` map. */
  upstreamModel: string | null
  /** Why the first side was chosen. */
  reason: "pinned" | "rule" | "sticky" | "random" | "affinity"
  /** HTTP attempts made, failovers included. */
  attempts: number
  /** Time from the call to the answer (streams: to the first chunk), ms. */
  latencyMs: number
  /** Cost in USD, when the model's price and the usage are known. */
  costUsd: number | null
  /** Whether the answer came from the response cache. */
  cached: boolean
}

/** Every answer carries a non-enumerable `route` (not part of `JSON.stringify`). */
export interface Routed {
  readonly route: Route
}

/** A chat message; any other field passes through. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | (string & {})
  content?: string | Array<Record<string, unknown>> | null
  [key: string]: unknown
}

/** Chat completion parameters: every OpenAI parameter passes through as given. */
export interface ChatCompletionCreateParams {
  model: string
  messages: ChatMessage[]
  stream?: boolean | null
  [key: string]: unknown
}

/** A chat completion, as the upstream sent it, plus `route`. */
export interface ChatCompletion extends Routed {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: { role: string; content: string | null; [key: string]: unknown }
    finish_reason: string | null
    [key: string]: unknown
  }>
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; [key: string]: unknown }
  [key: string]: unknown
}

/** One chunk of a streamed chat completion (a usage chunk, when you set `stream_options.include_usage`, has no choices). */
export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: Array<{
    index: number
    delta: { role?: string; content?: string | null; [key: string]: unknown }
    finish_reason: string | null
    [key: string]: unknown
  }>
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; [key: string]: unknown } | null
  [key: string]: unknown
}

/** Responses API parameters: every OpenAI parameter passes through as given. */
export interface ResponseCreateParams {
  model: string
  input?: string | Array<Record<string, unknown>>
  /** Continues a conversation: turnout sends it to the side that created that response. */
  previous_response_id?: string | null
  stream?: boolean | null
  [key: string]: unknown
}

/** A Responses API answer (a `response` object), as the upstream sent it, plus `route`. */
export interface ModelResponse extends Routed {
  id: string
  object: 'response'
  model: string
  status?: string
  output: Array<Record<string, unknown>>
  usage?: { input_tokens: number; output_tokens: number; total_tokens: number; [key: string]: unknown } | null
  [key: string]: unknown
}

/** One event of a streamed Responses API answer (`response.created` … `response.completed`). */
export interface ResponseStreamEvent {
  type: string
  sequence_number?: number
  [key: string]: unknown
}

/** Embeddings parameters; any other OpenAI parameter passes through. */
export interface EmbeddingCreateParams {
  model: string
  input: string | string[] | number[] | number[][]
  [key: string]: unknown
}

/** An embeddings answer plus `route`. */
export interface CreateEmbeddingResponse extends Routed {
  object: 'list'
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>
  model: string
  usage?: { prompt_tokens: number; total_tokens: number }
  [key: string]: unknown
}

/** A model. */
export interface Model {
  id: string
  object: 'model'
  created?: number
  owned_by?: string
  [key: string]: unknown
}

/** The models list plus `route`. */
export interface ModelList extends Routed {
  object: 'list'
  data: Model[]
}

/** A list answer: its fields, `route`, and iteration over its items (one page). */
export declare class Page<T = Model> implements Iterable<T>, AsyncIterable<T> {
  readonly object: 'list'
  readonly data: T[]
  readonly route: Route
  /** The items of this page. */
  getPaginatedItems(): T[]
  /** Always `false`: list answers are one page. */
  hasNextPage(): boolean
  [Symbol.iterator](): Iterator<T>
  [Symbol.asyncIterator](): AsyncIterator<T>
}

/** A promise of a page that `for await` can also walk item by item, like openai-node's. */
export type PagePromise<T = Model> = Promise<Page<T>> & AsyncIterable<T>

/**
 * The events of a streaming answer, as an async iterable. Leaving a `for await` loop early
 * (`break`, `return`, a throw) or calling `close()` cancels the upstream request.
 * A failure after the first event raises {@link StreamInterruptedError}.
 */
export declare class Stream<T = ChatCompletionChunk> implements AsyncIterableIterator<T> {
  private constructor()
  /** How the stream was routed. */
  readonly route: Route
  [Symbol.asyncIterator](): AsyncIterableIterator<T>
  next(): Promise<IteratorResult<T, undefined>>
  return(): Promise<IteratorResult<T, undefined>>
  /** Ends the stream and cancels the upstream request (idempotent). */
  close(): void
}

/** A traffic state: who gets traffic. */
export interface TrafficState {
  active: Side
  /** The candidate's share in percent. */
  canaryWeight: number
  /** The same, in basis points (0..10000). */
  weightBp: number
  salt: string
  /** Bumped by every change. */
  version: number
}

/** A side's sliding-window statistics. */
export interface WindowStats {
  /** Requests ended in the window. */
  requests: number
  successes: number
  /** Failures of the side. */
  failures: number
  /** 429s. */
  rateLimited: number
  /** The caller's 4xx. */
  clientErrors: number
  errorRate: number
  successRate: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  /** 99th percentile time to first token of streams. */
  p99TtftMs: number
}

/** One side in {@link Status}. */
export interface EnvironmentStatus {
  label: string | null
  baseUrl: string
  /** A fingerprint of the key (never the key). */
  key: string
  healthy: boolean
  circuit: 'closed' | 'open' | 'half_open' | (string & {})
  window: WindowStats
}

/** A rollout's progress. */
export interface RolloutStatus {
  id: number
  state: 'running' | 'paused' | 'completed' | 'rolled_back' | 'aborted' | (string & {})
  candidate: Side
  step: number
  steps: number
  weight: number
  failures: number
  failureLimit: number
  stepRequests: number
  since: string
  reason: string | null
  lastVerdict: string | null
}

/** What `status()` reports. */
export interface Status {
  active: Side
  canaryWeight: number
  version: number
  salt: string
  environments: Record<Side, EnvironmentStatus>
  rollout: RolloutStatus | null
}

/** The result of a health probe. */
export interface ProbeResult {
  environment: Side
  healthy: boolean
  latencyMs: number
  error: string | null
}

/** An event: `type`, `at` (RFC 3339), `reason`, and fields of its kind (camelCase). */
export interface TurnoutEvent {
  type:
    | 'switch'
    | 'weight_changed'
    | 'promote'
    | 'rollback'
    | 'rollout_started'
    | 'rollout_step'
    | 'rollout_completed'
    | 'rollout_paused'
    | 'rollout_resumed'
    | 'rollout_aborted'
    | 'health_changed'
    | 'circuit_opened'
    | 'circuit_closed'
    | 'failover'
    | 'checkpoint_created'
    | 'checkpoint_restored'
    | 'alert'
    | 'task_restarted'
    | (string & {})
  at: string
  reason: string
  environment?: Side
  version: number
  [key: string]: unknown
}

/** One step of a rollout. */
export interface RolloutStep {
  /** The candidate's share in percent (0 < weight <= 100). */
  weight: number
  /** The least time spent at this step, ms [0]. */
  holdMs?: number
  /** The least candidate requests seen at this step before it may advance [0]. */
  minRequests?: number
  /** A first step at weight 0 judged on shadow traffic alone (no user reaches the candidate). */
  shadow?: boolean
}

/** A progressive rollout plan. */
export interface RolloutPlan {
  /** Weights strictly rising, the last at 100. */
  steps: RolloutStep[]
  /** The gates judging each step [the rollback guard's defaults]. */
  gates?: RollbackOptions
  /** Time between evaluations, ms [10000]. */
  intervalMs?: number
  /** Failed evaluations tolerated; one more rolls back [1]. */
  failureLimit?: number
  /** Longest time a step may wait for enough data before the rollout pauses, ms. */
  stepDeadlineMs?: number
}

/** A checkpoint of the traffic state and routing config. */
export interface Checkpoint {
  id: string
  name: string
  /** sha256 of the canonical JSON of `content`. */
  hash: string
  createdAt: string
  version: number
  /** `{traffic, routing, environments}`, in the config file's shape (as hashed). */
  content: Record<string, unknown>
}

/** Token and cost totals. */
export interface CostTotals {
  /** Answers that reported their usage. */
  requests: number
  promptTokens: number
  completionTokens: number
  /** USD, over the answers whose model has a price. */
  costUsd: number
  /** Answers whose model has no price (tokens counted, cost not). */
  unpricedRequests: number
}

/** What `costs()` reports. */
export interface Costs {
  /** The metadata key `byTag` is keyed by. */
  tag: string
  total: CostTotals
  byEnvironment: Record<string, CostTotals>
  byModel: Record<string, CostTotals>
  byTag: Record<string, CostTotals>
}

/** A WHATWG fetch. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * A routed client for an OpenAI-compatible API with two environments, blue and green.
 * Each request goes to one of them, chosen in-process: no proxy hop.
 */
export declare class Client {
  /**
   * @param options camelCase options, durations in milliseconds.
   * @throws {@link ConfigError} when an option is unknown or invalid (the message names it).
   */
  constructor(options: ClientOptions)

  /**
   * A client from a config file (YAML, TOML or JSON, by extension) or a config object in the
   * file's shape (snake_case keys, durations in seconds). `${VAR}` expands from the environment.
   */
  static fromConfig(source: string | Record<string, unknown>): Client

  /** Chat completions. */
  readonly chat: {
    readonly completions: {
      /**
       * Creates a chat completion; every OpenAI parameter passes through. With `stream: true`
       * resolves to a {@link Stream} of chunks once the first one arrived.
       */
      create(params: ChatCompletionCreateParams & { stream: true }, options?: RequestOptions): Promise<Stream<ChatCompletionChunk>>
      create(params: ChatCompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>
      create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | Stream<ChatCompletionChunk>>
    }
  }

  /** The Responses API. */
  readonly responses: {
    /**
     * Creates a model response; every OpenAI parameter passes through. A follow-up naming
     * `previous_response_id` goes to the side that holds that response. With `stream: true`
     * resolves to a {@link Stream} of events once the first one arrived.
     */
    create(params: ResponseCreateParams & { stream: true }, options?: RequestOptions): Promise<Stream<ResponseStreamEvent>>
    create(params: ResponseCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<ModelResponse>
    create(params: ResponseCreateParams, options?: RequestOptions): Promise<ModelResponse | Stream<ResponseStreamEvent>>
  }

  /** Embeddings. */
  readonly embeddings: {
    create(params: EmbeddingCreateParams, options?: RequestOptions): Promise<CreateEmbeddingResponse>
  }

  /** Models. */
  readonly models: {
    list(options?: RequestOptions): PagePromise<Model>
    retrieve(model: string, options?: RequestOptions): Promise<Model & Routed>
  }

  /**
   * A WHATWG `fetch` routed by this client, for the official SDK:
   * `new OpenAI({ apiKey: 'unused', baseURL: 'http://turnout/v1', fetch: client.fetch })`.
   * A pass-through: the method, the path after the SDK's base path (`fetchBasePath`, `/v1`
   * by default; query included), every header but the credentials, and the body bytes (JSON,
   * multipart, binary, streamed) go to the chosen environment with its key. Its answer comes
   * back as sent — status, headers, bytes or a byte stream — plus `x-turnout-environment`,
   * `x-turnout-attempts`, `x-turnout-model` and `x-turnout-label`. Answers turnout gave up on,
   * and the synthetic 400/502/503/504 standing for failures without an answer, carry
   * `x-should-retry: false`: the SDK raises at once. Headers `x-turnout-routing-key`,
   * `x-turnout-environment` and `x-turnout-metadata` (JSON) set the routing options. The
   * SDK's timeout (a per-request `timeout`, which the SDK sends, else `fetchTimeoutMs`) bounds
   * the call until the answer is handed over: turnout answers before it, a 504 at worst.
   */
  readonly fetch: Fetch

  /**
   * Another routed `fetch`, for an SDK `baseURL` whose path is not `/v1`: `basePath` is that
   * path (`'/openai/v1'`) or the `baseURL` itself; or for an SDK whose `timeout` is another
   * than `fetchTimeoutMs`: `timeoutMs`.
   */
  createFetch(options?: { basePath?: string; timeoutMs?: number }): Fetch

  /**
   * Sends any request (`path` under the base URL, e.g. `/responses`), routed like the others.
   * A body with `stream: true` resolves to a {@link Stream}.
   */
  request<T = Record<string, unknown>>(method: string, path: string, body?: Record<string, unknown> | null, options?: RequestOptions): Promise<(T & Routed) | Stream<T>>

  /** The traffic state, per-side health, circuits and window statistics, and the rollout. */
  status(): Status
  /** Makes `environment` active with no canary: an instant, reversible blue/green switch. */
  switchTo(environment: Side, options?: ChangeOptions): TrafficState
  /** Sends `percent` (0..100) of traffic to the candidate. */
  setCanaryWeight(percent: number, options?: ChangeOptions): TrafficState
  /** Makes the candidate active; weight back to 0. */
  promote(options?: ChangeOptions): TrafficState
  /** Undoes the last release step: weight 0 during a canary, else the side active before the last switch or promotion; nothing when the last change was a rollback. */
  rollback(reason?: string, options?: ChangeOptions): TrafficState
  /** Probes `environment` now (the probe also counts toward the health thresholds). */
  healthCheck(environment: Side): Promise<ProbeResult>

  /** Starts a progressive rollout of the candidate; returns its status. */
  startRollout(plan: RolloutPlan): RolloutStatus
  /** Pauses the rollout at its step; returns its status. */
  pauseRollout(): RolloutStatus
  /** Resumes a paused rollout; returns its status. */
  resumeRollout(): RolloutStatus
  /** Aborts the rollout (the candidate's weight back to 0); returns its status. */
  abortRollout(reason?: string): RolloutStatus
  /** The current rollout's progress, or the last one's outcome; `null` before the first. */
  rollout(): RolloutStatus | null

  /** Takes a checkpoint of the traffic state and routing config. */
  checkpoint(name: string): Checkpoint
  /** The checkpoints kept (the last ten), oldest first. */
  checkpoints(): Checkpoint[]
  /** Re-applies a checkpoint's traffic state (active side, weight and salt); `force` restores
   * one that sends traffic to an unavailable side. */
  restoreCheckpoint(id: string, options?: { force?: boolean }): TrafficState

  /** The events kept in memory (the last 1000), oldest first. */
  history(): TurnoutEvent[]
  /**
   * Calls `callback` for every future event (asynchronously, on the main thread). A callback
   * that throws is reported as a process warning and never breaks the engine.
   * @returns a function that unsubscribes.
   */
  onEvent(callback: (event: TurnoutEvent) => void): () => void

  /** The Prometheus metrics of this client, as OpenMetrics text. */
  metricsText(): string
  /** The address (`host:port`) the built-in metrics listener serves on (`metrics.listen`), or `null`. */
  metricsAddress(): string | null
  /** @deprecated the old name of {@link Client.metricsAddress}. */
  metricsAddr(): string | null
  /**
   * Runs the periodic checks now: the rollback guard judges every gate and a running rollout
   * is evaluated once, as if its interval had come.
   */
  tick(): void
  /** The content type of `metricsText()` (OpenMetrics text), for an app serving it itself. */
  static readonly metricsContentType: string
  /** Token and cost totals since the client was built. */
  costs(): Costs
  /** Replaces a side's keys at run time; requests in flight keep theirs (`keys_rotated` event). */
  rotateKeys(side: Side, keys: string[]): void
  /** The shadow traffic so far: counts, rates, this hour's spend, the last differing pairs (keys redacted). */
  shadowReport(): Record<string, any>

  /** Stops background tasks; later requests and operations throw {@link ClientClosedError}. */
  close(): void
}

/** The sticky bucket (0..10000) of `key` under `salt`: the routing function of every turnout SDK. */
export declare function bucket(salt: string, key: string): number
/** Whether `key` falls in the candidate's share of `weightBp` basis points under `salt`. */
export declare function isCandidate(salt: string, key: string, weightBp: number): boolean

/** The stable kinds carried by `code`. */
/** Options of a traffic change. */
export interface ChangeOptions {
  /** Send traffic to a side even when its circuit is open or its probes say unhealthy. */
  force?: boolean
}

export type ErrorCode =
  | 'config'
  | 'connect'
  | 'timeout'
  | 'status'
  | 'decode'
  | 'stream_interrupted'
  | 'no_healthy_environment'
  | 'rate_limited'
  | 'closed'
  | 'store'
  | 'no_rollout'
  | 'unknown_checkpoint'
  | 'refused'
  | (string & {})

/** The root of every error turnout throws. */
export declare class TurnoutError extends Error {
  /** The stable kind, e.g. `"status"`, `"timeout"`. */
  readonly code: ErrorCode
  /** The side the error came from, when one is known. */
  readonly environment: Side | null
}
/** The configuration, or an option of a call, is invalid; the message names the field. */
export declare class ConfigError extends TurnoutError {}
/** Both environments are unavailable (both circuits open), or the pinned one is. */
export declare class NoHealthyEnvironmentError extends TurnoutError {}
/** An upstream request failed (`code` `"decode"`: its answer could not be read). */
export declare class APIError extends TurnoutError {}
/** The connection to an environment failed. */
export declare class APIConnectionError extends APIError {}
/** The request did not finish within its timeout. */
export declare class APITimeoutError extends APIConnectionError {}
/** The upstream answered with an HTTP error status. */
export declare class APIStatusError extends APIError {
  /** The HTTP status. */
  readonly status: number
  /** The upstream's body: parsed JSON when it is JSON, else the text. */
  readonly body: unknown
  /** The OpenAI error object of the body (`{ message, type, param, code }`), if any. */
  readonly error: { message?: string; type?: string; param?: string | null; code?: string | number | null; [key: string]: unknown } | undefined
  /** The delay the upstream asked for before a retry, ms, if it asked. */
  readonly retryAfterMs: number | null
  /** The side that answered. */
  readonly environment: Side
}
/** HTTP 400. */
export declare class BadRequestError extends APIStatusError {}
/** HTTP 401: the environment's key was refused. */
export declare class AuthenticationError extends APIStatusError {}
/** HTTP 403. */
export declare class PermissionDeniedError extends APIStatusError {}
/** HTTP 404: an unknown path, or a model the environment does not serve. */
export declare class NotFoundError extends APIStatusError {}
/** HTTP 422. */
export declare class UnprocessableEntityError extends APIStatusError {}
/** HTTP 429 from the upstream, after turnout's retries. */
export declare class RateLimitError extends APIStatusError {}
/** HTTP 5xx, after turnout's retries and failover. */
export declare class InternalServerError extends APIStatusError {}
/** A stream failed after data had reached the caller; never retried. */
export declare class StreamInterruptedError extends APIError {}
/** The shared state store is unreachable, or holds contents turnout refuses. */
export declare class StoreError extends TurnoutError {}
/** A rollout operation was asked for while no rollout is running. */
export declare class NoRolloutError extends TurnoutError {}
/** No checkpoint has the id asked for. */
export declare class UnknownCheckpointError extends TurnoutError {}
/** A change was refused (an unavailable side without `force`, or a failed precondition). */
export declare class RefusedError extends TurnoutError {}
/** The client was closed before this call (code `"closed"`). */
export declare class ClientClosedError extends TurnoutError {}
/** A client-side limit gave no permit within the request's timeout (code `"rate_limited"`). */
export declare class ClientRateLimitError extends TurnoutError {}
