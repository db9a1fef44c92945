import type { Api } from '../../contract/index.js';
import { HubbubError } from '../errors.js';
import { RESPONDED, type RouterHandlers } from '../http/adapter.js';
import type { Metrics } from './metrics.js';

// GET /metrics on the main port: a contract route (its API key operation `metrics` is checked by the
// guard like any other), answered in the Prometheus text format rather than the adapter's JSON.

export function metricsHandlers(metrics: Metrics): Pick<RouterHandlers<Api>, 'metrics'> {
  return {
    async metrics(_req, ctx) {
      if (!metrics.enabled) throw new HubbubError('not_found', 'metrics are off on this node (--metrics false)');
      const text = await metrics.exposition();
      ctx.status = 200;
      ctx.type = metrics.contentType;
      ctx.body = text;
      return RESPONDED;
    },
  };
}
