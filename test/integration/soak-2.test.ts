import { soakSuite } from '../support/soak-run.ts';

// One half of the soak (see soak-run.ts): its own seed and world, run beside soak-1.test.ts.
soakSuite('test/integration/soak-2.test.ts');
