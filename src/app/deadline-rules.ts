import type { ServiceConfig } from '../config/greenlight-schema.ts';
import type { DeadlineRules } from '../domain/deadlines.ts';

/** A service's deadlines; a pending release lasts as long as its approvals by default. */
export function deadlineRules(config: ServiceConfig): DeadlineRules {
  return {
    ...config.deadlines,
    approvalMinutes: config.deadlines.approvalMinutes ?? config.approvalTtlMinutes,
    approvalTtlMinutes: config.approvalTtlMinutes,
  };
}
