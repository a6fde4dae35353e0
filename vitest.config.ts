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

// Tests on a real node (containerd, kubelet, kube-proxy, CoreDNS on a local bridge): one file at a
// time, since kube-proxy's iptables chains are the machine's.
const realNodeTests = ['test/realnode/**/*.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default', new PlainSummaryReporter()],
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'common/**/*.test.ts',
            'operator/**/*.test.ts',
            'runtime-image/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', ...clusterTests, ...realNodeTests],
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
      {
        test: {
          name: 'realnode',
          include: realNodeTests,
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
