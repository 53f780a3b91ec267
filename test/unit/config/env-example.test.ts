import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../../src/config/env.ts';

describe('.env.example', () => {
  it('lists every variable Greenlight reads, each with a comment', () => {
    const text = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    const lines = text.split('\n');
    for (const name of ENV_VARS) {
      const at = lines.findIndex((line) => line.startsWith(`${name}=`));
      expect(at, `${name} is missing from .env.example`).toBeGreaterThan(0);
      expect(lines[at - 1], `${name} has no comment above it`).toMatch(/^#/);
    }
  });
});
