import { type JsonData, PublishProxyResponse, type PublishProxyRequest, SIGNATURE_HEADER, dataProblem } from '../../contract/index.js';
import { HubbubError } from '../errors.js';
import type { SampledLog } from '../log-sampler.js';
import type { PublishRequest } from '../publish/service.js';
import type { Session } from '../session/session.js';
import { VERSION } from '../version.js';
import type { PublishProxyOptions } from './options.js';
import { signatureHeader } from './signature.js';

// The synchronous publish proxy: before a client publication of a namespace with `publishProxy` is
// stored, its backend is asked, and may accept it, rewrite its data or reject it. Anything but a
// clear answer in time refuses the publication (webhook_unavailable): a proxy that is down must not
// let unchecked messages through.

export const PROXY_OUTCOMES = ['accepted', 'rewritten', 'rejected', 'unavailable'] as const;
export type ProxyOutcome = (typeof PROXY_OUTCOMES)[number];

export interface PublishProxyDeps {
  nodeId: string;
  secret: string | undefined;
  log: Pick<SampledLog, 'warn'>;
}

export class PublishProxy {
  readonly counts: Record<ProxyOutcome, number> = { accepted: 0, rewritten: 0, rejected: 0, unavailable: 0 };

  constructor(private readonly deps: PublishProxyDeps) {}

  /** The data to publish (the client's, or the backend's rewrite); throws publish_rejected or webhook_unavailable. */
  async check(options: PublishProxyOptions, session: Session, req: PublishRequest): Promise<JsonData> {
    const info = session.identity.info;
    const request: PublishProxyRequest = {
      channel: req.channel,
      ...(req.event === undefined ? {} : { event: req.event }),
      data: req.data,
      ...(req.tags === undefined ? {} : { tags: req.tags }),
      user: session.user ?? '',
      client: session.client,
      transport: session.transport,
      ...(info === undefined ? {} : { info }),
      node: this.deps.nodeId,
    };
    const body = JSON.stringify(request);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `hubbub/${VERSION}` };
    if (this.deps.secret !== undefined) headers[SIGNATURE_HEADER] = signatureHeader(this.deps.secret, body, Math.floor(Date.now() / 1000));
    let status: number;
    let text: string;
    try {
      const res = await fetch(options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : 'the request failed';
      throw this.unavailable(`the publish proxy of ${req.channel}: ${why}`, err);
    }
    const answer = parseAnswer(text);
    if (status >= 400 && status < 500) return this.reject(answer && 'error' in answer ? answer.error.message : undefined, `HTTP ${status}`);
    if (status < 200 || status >= 300) throw this.unavailable(`the publish proxy of ${req.channel} answered HTTP ${status}`);
    if (!answer) throw this.unavailable(`the publish proxy of ${req.channel} answered neither {"result":…} nor {"error":…}`);
    if ('error' in answer) return this.reject(answer.error.message, answer.error.code === undefined ? 'error' : `error ${answer.error.code}`);
    if (!('data' in answer.result)) {
      this.counts.accepted += 1;
      return req.data;
    }
    const data = answer.result.data as JsonData;
    const problem = dataProblem(data);
    if (problem) throw this.unavailable(`the publish proxy of ${req.channel} rewrote the data into something that cannot be published: ${problem.message}`);
    this.counts.rewritten += 1;
    return data;
  }

  private reject(message: string | undefined, why: string): never {
    this.counts.rejected += 1;
    throw new HubbubError('publish_rejected', message === undefined || message === '' ? undefined : `rejected by the backend: ${message}`, undefined, {
      cause: new Error(`publish proxy: ${why}`),
    });
  }

  private unavailable(message: string, cause?: unknown): HubbubError {
    this.counts.unavailable += 1;
    this.deps.log.warn('publish-proxy:unavailable', message, cause);
    return new HubbubError('webhook_unavailable', undefined, undefined, { cause: new Error(message, { cause }) });
  }
}

function parseAnswer(text: string): PublishProxyResponse | undefined {
  try {
    const parsed = PublishProxyResponse.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
