/**
 * What every request of a benchmark flow carries, and how a flow fails.
 *
 * A flow runs inside {@link inFlow}: each request it sends (through the user agent or through
 * openid-client's custom fetch) gets the next `x-bench-hop` number, so that `--instances 2`
 * sends consecutive requests to different Tobira processes, and the flow's own
 * `x-forwarded-for` address, as a member behind a load balancer would have (Tobira rate-limits
 * passkey ceremonies per client address). The instance that answered each request is recorded
 * and checked at the end of the flow.
 *
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A flow that did not complete as a real client would need it to; `step` says where. */
export class FlowError extends Error {
  readonly step: string;
  constructor(step: string, message: string, options?: { cause?: unknown }) {
    super(`${step}: ${message}`, options);
    this.step = step;
  }
}

/** Per-flow state shared by every request of the flow. */
interface FlowState {
  hop: number;
  forwardedFor: string;
  requests: number;
  /** Instance index that answered each request (`x-bench-instance`), or '' when none said. */
  instances: string[];
}

const current = new AsyncLocalStorage<FlowState>();
let addressCounter = Math.floor(Math.random() * 0xffffff);

/** A fresh client address per flow, inside 127.0.0.0/8 (the header is all that is sent). */
function nextAddress(): string {
  addressCounter = (addressCounter + 1) % 0xfffffe;
  const n = addressCounter + 1;
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** What a flow reports when it completes. */
export interface FlowStats { requests: number; instances: string[] }

/**
 * Runs `fn` as one flow. The first request goes to instance `start mod N`; give each flow a
 * different start so that load spreads evenly.
 */
export async function inFlow(start: number, fn: () => Promise<void>): Promise<FlowStats> {
  const state: FlowState = { hop: start, forwardedFor: nextAddress(), requests: 0, instances: [] };
  await current.run(state, fn);
  return { requests: state.requests, instances: state.instances };
}

/** Headers for the flow's next request (empty outside a flow). */
export function flowHeaders(): Record<string, string> {
  const state = current.getStore();
  if (!state) return {};
  return { 'x-bench-hop': String(state.hop++), 'x-forwarded-for': state.forwardedFor };
}

/** Records a response of the current flow. */
export function observe(headers: Headers): void {
  const state = current.getStore();
  if (!state) return;
  state.requests++;
  state.instances.push(headers.get('x-bench-instance') ?? '');
}

/** Rewrites a response body; used to inject faults that the flow checker must catch. */
export type ResponseTamper = (url: string, body: string) => string;

/**
 * A fetch for openid-client (`config[customFetch]`) that adds the flow headers, records the
 * answer, and lets a test tamper with what the server said.
 */
export function benchFetch(tamper?: ResponseTamper) {
  return async (url: string, options: RequestInit & { headers?: Record<string, string> }): Promise<Response> => {
    const res = await fetch(url, { ...options, headers: { ...options.headers, ...flowHeaders() } });
    observe(res.headers);
    if (!tamper) return res;
    const body = tamper(url, await res.text());
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/**
 * Checks that consecutive requests of a flow were answered by different instances (only
 * meaningful behind the `--instances` proxy).
 */
export function checkAlternation(stats: FlowStats, instances: number): void {
  if (instances < 2) return;
  stats.instances.forEach((instance, i) => {
    if (instance === '') throw new FlowError('routing', `request ${i + 1} did not say which instance answered`);
    if (i > 0 && instance === stats.instances[i - 1]) throw new FlowError('routing', `requests ${i} and ${i + 1} both went to instance ${instance}`);
  });
}
