import type { Logger } from '../log/logger.js';
import { enqueueOperation, runningOperationFor } from '../queue/enqueue.js';
import type { RequestPorts } from '../requests/ports.js';
import type { BotDeps } from './deps.js';

/** The request layer's ports over the bot's own connections (membership is read by deps' gates and plan). */
export function requestPortsOf(deps: BotDeps, log: Logger): RequestPorts {
  return {
    plan: async (operation, cluster, node) => deps.planOperation(deps.config, operation, cluster, node),
    checkGates: (request) => deps.checkSafetyGates(deps.config, request, { logger: log }),
    enqueue: (request, options) => enqueueOperation(deps.queue, deps.redis, request, options),
    runningOperation: (cluster) => runningOperationFor(deps.queue, cluster),
    appendAudit: async (entry) => {
      await deps.audit.append(entry);
    },
    now: deps.now,
  };
}
