import { z } from 'zod';
import { httpUrl, positiveInt, slackPrincipal } from './schema-values.ts';

/**
 * One step before the switch (`steps.<name>`), such as a database migration: an argv run like a
 * deploy command, after the release is approved and before traffic moves. An irreversible step
 * (`reversible: false`) names the runbook that compensates for it and the role that approves it.
 */
const stepSchema = z
  .strictObject({
    command: z.array(z.string().min(1)).min(1),
    reversible: z.boolean().default(true),
    /** The runbook that undoes its effect on the data by hand; required when irreversible. */
    compensation: httpUrl.optional(),
    /** A role (as in releaseTypes approvals) whose member approves it; required when irreversible. */
    approverRole: z.string().min(1).optional(),
    /** Who is told when a rollback leaves the data layer to the runbook. */
    owner: slackPrincipal.optional(),
    /** The approval button's text (default "Run <name> (cannot be undone)"). */
    label: z.string().min(1).max(60).optional(),
    timeoutSeconds: positiveInt.max(24 * 3600).default(600),
  })
  .superRefine((step, ctx) => {
    if (step.reversible) return;
    if (step.compensation === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['compensation'],
        message:
          'an irreversible step (reversible: false) needs compensation: the URL of the runbook that undoes it',
      });
    if (step.approverRole === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['approverRole'],
        message:
          'an irreversible step (reversible: false) needs approverRole: the role that approves it',
      });
  });

/** Step names end up in job ids and button text: short, lowercase, no separators Slack or BullMQ mind. */
export const stepsSchema = z.record(
  z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,30}$/, { error: 'expected lowercase letters, digits, _ and -' }),
  stepSchema,
);

export type StepConfig = z.output<typeof stepSchema>;
