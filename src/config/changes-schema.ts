import { z } from 'zod';
import { httpUrl, positiveInt } from './schema-values.ts';

/** Where a service's release notes come from: a git repository and how its tags are named. */
const gitChangesSchema = z.strictObject({
  /**
   * The repository: a remote URL (https://, ssh://, git@host:path) or a local path (relative to
   * the working directory). Greenlight clones it once into its own cache directory and fetches
   * its tags before each use; it never writes to it.
   */
  repo: z
    .string()
    .min(1)
    .refine((repo) => !repo.startsWith('-'), { error: 'expected a path or URL, not an option' }),
  /** The tag of a version: `{version}` becomes `2.4.1`. */
  tagPattern: z
    .string()
    .regex(/^[A-Za-z0-9._/+-]*\{version\}[A-Za-z0-9._/+-]*$/, {
      error: 'expected a tag name containing {version}, such as v{version}',
    })
    .default('v{version}'),
  /**
   * The repository's web page (`https://github.com/acme/api`, `https://gitlab.com/acme/api`):
   * PR and MR numbers and the compare view are linked through it. Unset: no links.
   */
  webUrl: httpUrl.transform((url) => url.replace(/\/+$/, '')).optional(),
  /** How `webUrl` shapes its links; unset: gitlab when its host names gitlab, else github. */
  forge: z.enum(['github', 'gitlab']).optional(),
  /** Bound on each git call (clone, fetch, log), in seconds. */
  timeoutSeconds: positiveInt.max(600).default(30),
});

export const changesSchema = z.strictObject({ git: gitChangesSchema });
