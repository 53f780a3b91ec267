import { z } from 'zod';
import { RELEASE_STATES } from '../../domain/release.ts';
import { NOTE_GROUPS } from '../../domain/release-notes.ts';
import { SLOTS } from '../../domain/slots.ts';
import { RELEASE_TYPES } from '../../domain/version.ts';

/** State read back from Redis is checked like any other input: a bad record fails loudly. */
const slotState = z.object({
  version: z.string().nullable(),
  health: z.enum(['healthy', 'unhealthy', 'deploying', 'failed', 'unknown']),
  note: z.string().optional(),
  releaseType: z.enum(RELEASE_TYPES).optional(),
  updatedAt: z.string(),
});

export const serviceStateSchema = z.object({
  service: z.string(),
  production: z.enum(SLOTS),
  slots: z.object({ blue: slotState, green: slotState }),
  operation: z
    .object({
      id: z.string(),
      kind: z.enum(['bump', 'sync', 'release', 'rollback']),
      by: z.string(),
      startedAt: z.string(),
      version: z.string().optional(),
      releaseId: z.string().optional(),
    })
    .nullable(),
  lastReleaseId: z.string().nullable(),
  traffic: z
    .object({
      weights: z.object({ blue: z.number(), green: z.number() }),
      at: z.string(),
      proxyStartedAt: z.number().optional(),
    })
    .optional(),
  revision: z.number().int(),
  createdAt: z.string().optional(),
});

const reading = z.object({
  requests: z.number().nullable(),
  errors: z.number().nullable().optional(),
  errorRatePercent: z.number(),
  latencyMs: z.number().nullable(),
  latencyKind: z.enum(['p99', 'mean']).optional(),
});

const releaseNotes = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    fromTag: z.string(),
    toTag: z.string(),
    total: z.number().int(),
    entries: z.array(
      z.object({
        group: z.enum(NOTE_GROUPS),
        type: z.string().optional(),
        scope: z.string().optional(),
        text: z.string(),
        author: z.string(),
        sha: z.string(),
        refs: z.array(z.object({ label: z.string(), url: z.string().optional() })),
      }),
    ),
    compareUrl: z.string().optional(),
  }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);

const checklistItem = z.object({
  id: z.string(),
  text: z.string(),
  required: z.boolean(),
  owner: z.array(z.string()).optional(),
});

const checklist = z.object({
  pre: z.array(checklistItem),
  post: z.array(checklistItem),
  ticks: z.array(z.object({ item: z.string(), by: z.string(), at: z.string() })),
  postClosedAt: z.string().optional(),
  remindedAt: z.string().optional(),
});

export const releaseSchema = z.object({
  id: z.string(),
  service: z.string(),
  version: z.string(),
  fromVersion: z.string(),
  type: z.enum(RELEASE_TYPES),
  strategy: z.enum(['bluegreen', 'canary']),
  requester: z.string(),
  requiredRoles: z.array(z.string()),
  approvals: z.array(z.object({ role: z.string(), user: z.string(), at: z.string() })),
  state: z.enum(RELEASE_STATES),
  stateSince: z.string().optional(),
  fromSlot: z.enum(SLOTS),
  toSlot: z.enum(SLOTS),
  freezeException: z.object({ justification: z.string(), window: z.string() }).optional(),
  decidedBy: z.string().optional(),
  rejectReason: z.string().optional(),
  failure: z.string().optional(),
  rollback: z
    .object({
      by: z.string(),
      approvedBy: z.string().optional(),
      reason: z.string(),
      at: z.string(),
      attempt: z.number().int().optional(),
      path: z.enum(['switch', 'redeploy']).optional(),
      flags: z
        .array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() }))
        .optional(),
    })
    .optional(),
  releasedAt: z.string().optional(),
  canary: z
    .object({
      steps: z.array(z.number()),
      stepIndex: z.number().int(),
      stepStartedAt: z.string(),
      awaitingPromotion: z.boolean().optional(),
      promptedAt: z.string().optional(),
      heldRevision: z.number().optional(),
      withoutEvidence: z.string().optional(),
      holdPassed: z.boolean().optional(),
      unproven: z.array(z.number().int()).optional(),
      rings: z
        .array(z.object({ name: z.string(), who: z.string(), soakMinutes: z.number() }))
        .optional(),
    })
    .optional(),
  observeUntil: z.string().optional(),
  paused: z
    .object({ by: z.string(), reason: z.string(), at: z.string(), revision: z.number().optional() })
    .optional(),
  analysis: z
    .object({
      checks: z.number().int(),
      breaches: z.number().int(),
      failedReads: z.number().int().optional(),
      lastVerdict: z.enum(['pass', 'breach', 'fail', 'inconclusive', 'no_data']).optional(),
      lastFigures: z.array(z.string()).optional(),
      canary: reading.optional(),
      baseline: reading.optional(),
      // A slot whose first read failed has no sample yet: its key is absent once stored as JSON.
      samples: z
        .object({ canary: z.unknown().optional(), baseline: z.unknown().optional() })
        .optional(),
      // The judge's own shape (error-judge.ts), checked where it is read (analysis.ts).
      evidence: z.unknown().optional(),
      shadow: z.boolean().optional(),
      at: z.string().optional(),
    })
    .optional(),
  pendingRollback: z.object({ by: z.string(), reason: z.string(), at: z.string() }).optional(),
  notes: releaseNotes.optional(),
  steps: z
    .array(
      z.object({
        name: z.string(),
        label: z.string(),
        reversible: z.boolean(),
        approverRole: z.string().optional(),
        compensation: z.string().optional(),
        owner: z.string().optional(),
        timeoutSeconds: z.number(),
        approvedBy: z.string().optional(),
        readyAt: z.string().optional(),
        startedAt: z.string().optional(),
        finishedAt: z.string().optional(),
        interruptedAt: z.string().optional(),
      }),
    )
    .optional(),
  checklist: checklist.optional(),
  flags: z
    .array(z.object({ name: z.string(), percent: z.number(), by: z.string(), at: z.string() }))
    .optional(),
  flagRamp: z
    .object({
      name: z.string(),
      steps: z.array(z.number()),
      stepIndex: z.number().int(),
      stepStartedAt: z.string(),
    })
    .optional(),
  timeline: z.array(z.object({ at: z.string(), who: z.string(), what: z.string() })),
  createdAt: z.string(),
  updatedAt: z.string(),
  revision: z.number().int(),
});
