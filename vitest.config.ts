import { defineConfig } from 'vitest/config';
import { PlainSummaryReporter } from './test/harness/plain-summary-reporter.ts';

// Tests that need the suite-wide Kubernetes cluster live in these folders; everything else is a
// plain (unit or HTTP) test that starts what it needs itself.
const clusterTests = [
  'test/harness/**/*.test.ts',
  'test/api/**/*.test.ts',
  'test/operator/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/chart/**/*.test.ts',
];

export default defineConfig({
  test: {
    reporters: ['default', new PlainSummaryReporter()],
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'operator/**/*.test.ts',
            'runtime-image/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', ...clusterTests],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: clusterTests,
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          // Cluster tests wait on the API server far more than they use CPU.
          maxWorkers: 3,
        },
      },
    ],
  },
});
