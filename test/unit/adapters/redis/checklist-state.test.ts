import { describe, expect, it } from 'vitest';
import { releaseSchema } from '../../../../src/adapters/redis/state-schemas.ts';
import {
  type Checklist,
  DEFAULT_CHECKLISTS,
  newChecklist,
} from '../../../../src/domain/checklist.ts';
import { releaseRecord } from '../../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';

describe('a checklist as Redis keeps it', () => {
  it('reads back every field after a restart: owners, ticks, when tracking closed, the reminder', () => {
    const checklist: Checklist = {
      ...(newChecklist({
        pre: DEFAULT_CHECKLISTS.pre,
        post: [{ text: 'Smoke test passed', required: true, owner: ['U0QA', 'S0OPS'] }],
      }) as Checklist),
      ticks: [{ item: 'pre-0', by: 'U0DEV1', at: T0 }],
      postClosedAt: T0,
      remindedAt: T0,
    };
    const release = releaseRecord(T0, { state: 'released', releasedAt: T0, checklist });
    expect(releaseSchema.parse(JSON.parse(JSON.stringify(release))).checklist).toEqual(checklist);
  });
});
