import { describe, expect, it } from 'vitest';
import { EXPRESS_MAJOR, startTestBff } from '../helpers/harness.js';

/** The HTTP suites run on the Express this project names (LATCHKEY_TEST_EXPRESS, vitest.config.ts), never silently on the other. */
describe('the Express under test', () => {
  const expected = Number(process.env.LATCHKEY_TEST_EXPRESS ?? '5');

  it(`is Express ${expected}, for the harness's app and the BFF's own router alike`, async () => {
    expect(EXPRESS_MAJOR).toBe(expected);
    const t = await startTestBff();
    try {
      // Only Express 4's Router has process_params: bff.router was built by the BFF's own `import express`.
      const router = t.bff.router as unknown as Record<string, unknown>;
      expect(typeof router.process_params === 'function' ? 4 : 5).toBe(expected);
    } finally {
      await t.close();
    }
  });
});
